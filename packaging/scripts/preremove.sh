#!/bin/sh
# Stop and disable the server when the package is removed (deb: "remove"; rpm: no
# version left, $1 = 0), not when it is upgraded. The database in /var/lib/authctl is kept.
set -e
case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now authctl.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
