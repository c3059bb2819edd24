#!/bin/sh
# Let systemd see the new or changed unit, and restart the server after an upgrade if it
# was running. A first install neither enables nor starts it: the admin password and the
# public URL are the operator's to set first (README "Packages").
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	systemctl try-restart authctl.service >/dev/null 2>&1 || true
fi
exit 0
