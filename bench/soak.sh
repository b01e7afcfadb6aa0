#!/usr/bin/env bash
# make soak: a steady load for DURATION_MIN minutes (default 30) against two release
# server instances on one PostgreSQL and one RabbitMQ: ROOMS rooms of PER_ROOM sockets (split
# between the instances), RATE messages/s per room (default 4 × 30 = 120 messages/s), measured in
# STEP_MIN-minute steps (default 5). Each step prints a JSON line with what was lost (must be 0)
# and the servers' RSS at its end: RSS must stay flat from step to step.
# Not part of make test (it takes half an hour); results go to BENCHMARKS.md.
set -euo pipefail
LOG_PREFIX=soak
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export MAX_CONNECTIONS_PER_ADDRESS=0 MAX_SOCKETS_PER_USER=0
DURATION_MIN=${DURATION_MIN:-30}
STEP_MIN=${STEP_MIN:-5}
ROOMS=${ROOMS:-4}
PER_ROOM=${PER_ROOM:-25}
RATE=${RATE:-30}
steps=$((DURATION_MIN / STEP_MIN))
((steps >= 1)) || die "DURATION_MIN must be at least STEP_MIN"
rates=$(printf "$RATE,%.0s" $(seq "$steps"))
rates=${rates%,}
cargo build --release --bin tickertalk --example fanout
mkdir -p target/bench
log "soak: $steps steps of $STEP_MIN min, $ROOMS rooms x $PER_ROOM sockets, $RATE msg/s per room, 2 instances"
TICKERTALK_BIN=${BENCH_BIN:-target/release/tickertalk} WITH_SERVER_DB_PREFIX=tt_soak WITH_SERVER_LOG=target/bench/server-soak.log WITH_SERVER_INSTANCES=2 \
    RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn \
    bash scripts/with-server.sh bash -c 'exec target/release/examples/fanout --base-url "$BASE_URLS" \
        --label soak --rooms "$0" --per-room "$1" --rates "$2" --step-secs "$3"' \
    "$ROOMS" "$PER_ROOM" "$rates" "$((STEP_MIN * 60))" | tee target/bench/soak.jsonl
