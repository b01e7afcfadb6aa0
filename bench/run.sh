#!/usr/bin/env bash
# make bench: a release server on its own database (scripts/with-server.sh), then the fan-out
# benchmark against it.
#   SOCKETS=2000 MESSAGES=200 RATE=50 bash bench/run.sh
set -euo pipefail
LOG_PREFIX=bench
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --bin tickertalk --example fanout
mkdir -p target/bench
# shellcheck disable=SC2016 # expanded by the inner shell, which with-server.sh gives BASE_URL and SERVER_PID
TICKERTALK_BIN=target/release/tickertalk WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server.log \
    RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn \
    bash scripts/with-server.sh bash -c '
        echo "server RSS idle: $(awk "/^VmRSS:/ { print \$2, \$3 }" "/proc/$SERVER_PID/status")"
        exec target/release/examples/fanout --base-url "$BASE_URL" \
            --sockets "${SOCKETS:-2000}" --messages "${MESSAGES:-200}" --rate "${RATE:-50}" --users "${USERS:-20}"'
