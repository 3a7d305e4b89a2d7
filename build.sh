#!/usr/bin/env bash
# Rampart's one entry point for set-up, build, run and test on Debian 12.
#   bash build.sh run     install deps, build, run Rampart in front of the example backend
#   bash build.sh test    install deps, build, run every test (unit + integration)
#   bash build.sh deps | build | asan | fuzz | bench
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
JOBS=${JOBS:-2}

DEPS=(build-essential cmake pkg-config git clang libclang-rt-14-dev clang-format
      libevent-dev node-llhttp libnghttp2-dev libssl-dev libboost-dev prometheus-cpp-dev
      libyaml-cpp-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
      curl nghttp2-client nghttp2-proxy wrk haproxy nginx openssl procps util-linux
      python3 python3-pytest python3-grpcio python3-h2 python3-yaml)

deps() {
  local missing=()
  for p in "${DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Package scripts must not start services (nginx, haproxy) on the machine.
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {  # build [dir] [extra cmake args...]
  local dir=${1:-build}; shift || true
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$ROOT/$dir" -j"$JOBS"
}

run() {
  build build
  local backend_port=${BACKEND_PORT:-8001}
  "$ROOT/build/examples/gpu_backend" --port "$backend_port" &
  local backend=$!
  trap 'kill $backend 2>/dev/null || true' EXIT
  cat <<MSG
Rampart is starting with configs/rampart.yaml in front of the example GPU backend (127.0.0.1:$backend_port).
  send requests:  curl -s localhost:15001/v2/models/resnet/infer -d '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}'
  health:         curl -s localhost:15001/v2/health/ready
  metrics:        curl -s localhost:9901/metrics
  policies:       curl -s localhost:9901/policies
Stop with Ctrl-C.
MSG
  "$ROOT/build/proxy/rampart" --config "$ROOT/configs/rampart.yaml"
}

unit_and_integration() {  # dir
  (cd "$ROOT/$1" && ctest --output-on-failure -j"$JOBS" --timeout 900)
}

case "${1:-}" in
  deps) deps ;;
  build) deps; build build ;;
  run) deps; run ;;
  test) deps; build build; unit_and_integration build ;;
  asan)
    deps
    build build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DRAMPART_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1 unit_and_integration build-asan ;;
  fuzz)
    deps
    build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DRAMPART_FUZZ=ON -DRAMPART_TESTS=ON
    for f in "$ROOT"/build-fuzz/tests/*_fuzz; do "$f" -max_total_time="${FUZZ_SECONDS:-30}" "$ROOT/tests/fuzz/corpus/$(basename "$f")" 2>/dev/null || "$f" -max_total_time="${FUZZ_SECONDS:-30}"; done ;;
  bench) deps; build build; bash "$ROOT/bench/run.sh" ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
