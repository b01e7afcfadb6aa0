#!/usr/bin/env bash
# make bench: each scenario against a release server on its own database (scripts/with-server.sh).
#   bash bench/run.sh [fanout] [logins] [history]      (default: all three)
#   SOCKETS=2000 MESSAGES=200 RATE=50 bash bench/run.sh fanout
#   LOGINS=100 CONCURRENCY=2 WRONG=100 bash bench/run.sh logins
#   CLIENTS=64 DURATION=10 bash bench/run.sh history
set -euo pipefail
# shellcheck disable=SC2034 # read by scripts/lib.sh
LOG_PREFIX=bench
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(fanout logins history)
cargo build --release --bin tickertalk --example fanout
mkdir -p target/bench
for scenario in "${scenarios[@]}"; do
    log "scenario: $scenario"
    case $scenario in
    fanout)
        # shellcheck disable=SC2016 # expanded by the inner shell, which with-server.sh gives BASE_URL and SERVER_PID
        TICKERTALK_BIN=target/release/tickertalk WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server.log \
            RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn \
            bash scripts/with-server.sh bash -c '
                echo "server RSS idle: $(awk "/^VmRSS:/ { print \$2, \$3 }" "/proc/$SERVER_PID/status")"
                exec target/release/examples/fanout --base-url "$BASE_URL" \
                    --sockets "${SOCKETS:-2000}" --messages "${MESSAGES:-200}" --rate "${RATE:-50}" --users "${USERS:-20}"'
        ;;
    logins)
        # A fresh server: its starting RSS must not include another scenario's hashing.
        TICKERTALK_BIN=target/release/tickertalk WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-logins.log \
            RUST_LOG=warn bash scripts/with-server.sh bash bench/logins.sh
        ;;
    history)
        TICKERTALK_BIN=target/release/tickertalk WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-history.log \
            RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn bash scripts/with-server.sh bash bench/history.sh
        ;;
    *) die "unknown scenario '$scenario' (fanout, logins, history)" ;;
    esac
done
