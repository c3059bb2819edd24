#!/usr/bin/env bash
# Soak: runs `authctl serve` on a fresh SQLite file on loopback under bench/soak's mixed,
# rate-bounded load and prints RSS, open fds and database size once a minute.
#   bench/soak.sh                 10 minutes
#   SOAK_DURATION=2m bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${SOAK_DURATION:-10m}
work=$(mktemp -d)
serve=
trap '[ -n "$serve" ] && kill "$serve" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/authctl" ./cmd/authctl
go build -o "$work/soak" ./bench/soak
export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config HOME=$work
export AUTHCTL_ADMIN_PASSWORD=soak-admin-password SOAK_PASSWORD=soak-user-password
db=$work/authctl.db
"$work/authctl" serve --db "$db" --addr 127.0.0.1:0 --access-ttl 1m ${SOAK_SERVE_FLAGS:---trusted-proxy 127.0.0.1/32} 2>"$work/serve.log" &
serve=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -n1)
# Users are added beside the running server, as an operator would.
for i in 0 1 2 3; do
  printf '%s' "$SOAK_PASSWORD" | "$work/authctl" user add "soak$i" --db "$db" --password-stdin >/dev/null
done
echo "soak: $dur against $url (pid $serve), access-ttl 1m"
"$work/soak" -url "$url" -pid "$serve" -db "$db" -duration "$dur" -every "${SOAK_EVERY:-1m}"
echo "serve log: $(wc -l <"$work/serve.log") lines, $(wc -c <"$work/serve.log") bytes"
