#!/usr/bin/env bash
# Reads under concurrent clients: `GET buckets` (which records an event) against `GET tokens/verify`,
# each with wrk (8 connections, 10 s), interleaved ROUNDS times on one fresh stack; prints each run,
# then the median throughput of both, their ratio, and the median p99 of `GET buckets`.
#
#   bench/reads.sh [ROUNDS]          # needs wrk (Debian: apt-get install wrk)
#
# Uses the binary at $STOWAGE_BIN, else target/release/stowage under $CARGO_TARGET_DIR.
set -euo pipefail
rounds=${1:-3}
bin=${STOWAGE_BIN:-${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/release/stowage}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/stdout" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "Console sign-in" "$dir/stdout" 2>/dev/null && break; sleep 0.1; done
token=$(grep -A1 "master Storage API token" "$dir/stdout" | tail -1 | tr -d ' ')
url="http://127.0.0.1:$port/v2/storage"
for name in sales marketing finance; do
    curl -sf -X POST "$url/buckets" -H "X-StorageApi-Token: $token" -d "name=$name&stage=in" >/dev/null
done
run() { # path -> "requests/s p99_ms"
    wrk -t2 -c8 -d10s --latency -H "X-StorageApi-Token: $token" "$url/$1" | awk '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; if (v ~ /us$/) p = v / 1000; else if (v ~ /ms$/) p = v + 0; else p = v * 1000 }
        END { printf "%.0f %.2f\n", rps, p }'
}
buckets=() verify=() p99=()
for round in $(seq "$rounds"); do
    read -r b bp <<<"$(run buckets)"
    read -r v vp <<<"$(run tokens/verify)"
    echo "round $round: GET buckets $b req/s (p99 $bp ms), GET tokens/verify $v req/s (p99 $vp ms)"
    buckets+=("$b") verify+=("$v") p99+=("$bp")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mb=$(median "${buckets[@]}") mv=$(median "${verify[@]}") mp=$(median "${p99[@]}")
echo "median: GET buckets $mb req/s, p99 $mp ms; GET tokens/verify $mv req/s; ratio $(awk -v a="$mb" -v b="$mv" 'BEGIN { printf "%.2f", a / b }')"
