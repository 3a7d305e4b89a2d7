#!/usr/bin/env bash
# Proxy comparison benchmark: direct, Rampart, HAProxy, nginx and nghttpx on
# loopback, one worker each, proxy pinned to CPU 0, wrk + upstream to CPU 1.
#   bash bench/run.sh [--only haproxy,nginx] [--cases small,4k,close]
#                     [--duration 10] [--connections 64] [--threads 1]
#                     [--repeat 3] [--out FILE.md] [--keep-tmp]
# `bash build.sh bench` builds Rampart into build/ first and then runs this.
# Method and how to read the table: bench/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for tool in wrk nginx haproxy nghttpx taskset; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "warning: not found: ${missing[*]} (Debian: wrk nginx haproxy nghttp2-proxy util-linux);" \
       "those rows will say 'not available'" >&2
fi
if [ ! -x "$ROOT/build/proxy/rampart" ]; then
  echo "note: $ROOT/build/proxy/rampart is not built; its rows will say 'not available'" >&2
fi

# exec: Ctrl-C and SIGTERM reach the Python driver directly, which stops
# every process it started before exiting.
exec /usr/bin/python3 "$ROOT/bench/proxy_bench.py" --rampart "$ROOT/build/proxy/rampart" "$@"
