#!/usr/bin/env bash
# Runs authctl's benchmarks side by side with their baselines in one run and prints ratios.
#   bench/run.sh            everything (needs hyperfine and curl; PostgreSQL at 127.0.0.1:5432)
#   BENCHTIME=5s bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
benchtime=${BENCHTIME:-3s}
count=${COUNT:-3}

pg=${AUTHCTL_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/authctl_bench?sslmode=disable}
if command -v psql >/dev/null && pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS authctl_bench' >/dev/null
  psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE authctl_bench' >/dev/null
  export AUTHCTL_BENCH_POSTGRES=$pg
fi

echo "== server benchmarks (go test -bench, benchtime $benchtime, count $count)"
go test -run '^$' -bench . -benchtime "$benchtime" -count "$count" ./bench/ | tee "$out/server.txt"

# Median of a metric over the -count runs of one benchmark.
metric() { # benchmark-regexp unit
  grep -E "^$1(-[0-9]+)? " "$out/server.txt" |
    awk -v u="$2" '{for (i=2;i<=NF;i++) if ($i==u) print $(i-1)}' | sort -g |
    awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'
}
bare=$(metric 'BenchmarkWeather/bare' req/s)
auth=$(metric 'BenchmarkWeather/authctl' req/s)
echo
echo "== figures (medians)"
printf 'weather: authctl %.0f req/s vs bare net/http %.0f req/s = %.2fx (goal >= 0.80x)\n' "$auth" "$bare" "$(echo "$auth / $bare" | bc -l)"
printf 'refresh, 16 chains, SQLite: %.0f/s (goal >= 3000/s)\n' "$(metric 'BenchmarkRefresh/sqlite' refresh/s)"
authm=$(metric 'BenchmarkWeather/authctl-metrics' req/s)
refm=$(metric 'BenchmarkRefresh/sqlite-metrics' refresh/s)
printf 'with --metrics-addr: weather %.0f req/s (%.2fx of without), refresh SQLite %.0f/s (%.2fx of without)\n' \
  "$authm" "$(echo "$authm / $auth" | bc -l)" "$refm" "$(echo "$refm / $(metric 'BenchmarkRefresh/sqlite' refresh/s)" | bc -l)"
if [ -n "${AUTHCTL_BENCH_POSTGRES:-}" ]; then
  printf 'refresh, 16 chains, PostgreSQL 1 replica: %.0f/s\n' "$(metric 'BenchmarkRefresh/postgres-1replica' refresh/s)"
  printf 'refresh, 16 chains, PostgreSQL 2 replicas: %.0f/s (goal >= 1500/s)\n' "$(metric 'BenchmarkRefresh/postgres-2replica' refresh/s)"
fi
printf 'login p50 %.1f ms vs bare argon2id p50 %.1f ms: +%.1f ms (goal <= +5 ms)\n' \
  "$(metric BenchmarkLogin login-p50-ms)" "$(metric BenchmarkLogin hash-p50-ms)" "$(metric BenchmarkLogin overhead-ms)"

echo
echo "== client: authctl weather --json vs curl with the same token (hyperfine)"
command -v hyperfine >/dev/null || { echo "hyperfine not installed (apt-get install hyperfine); skipping"; exit 0; }
go build -trimpath -ldflags '-s -w' -o "$out/authctl" ./cmd/authctl
work=$(mktemp -d)
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data AUTHCTL_KEYSTORE=file NO_COLOR=1
export AUTHCTL_ADMIN_PASSWORD=bench-password
"$out/authctl" serve --addr 127.0.0.1:0 --access-ttl 1h 2>"$work/serve.log" &
serve=$!
trap 'kill $serve 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -n1)
echo -n "$AUTHCTL_ADMIN_PASSWORD" | "$out/authctl" --server "$url" login -u admin --password-stdin >/dev/null
token=$("$out/authctl" --server "$url" token print)
hyperfine -N --warmup 20 --runs 300 --export-markdown "$out/client.md" \
  -n authctl "$out/authctl --server $url weather --json" \
  -n curl "curl -s -H 'Authorization: Bearer $token' $url/api/weather"
hyperfine -N --warmup 20 --runs 300 -n 'authctl version' "$out/authctl version"
printf 'binary size (stripped, -trimpath): %s bytes\n' "$(stat -c %s "$out/authctl")"
