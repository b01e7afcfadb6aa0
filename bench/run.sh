#!/usr/bin/env bash
# make bench: each scenario against release server(s) on their own database (scripts/with-server.sh).
#   bash bench/run.sh [SCENARIO...]      (default: all; a JSON line and a table per scenario)
#     fanout    20 rooms x 50 sockets, one instance, rate per room stepped up until a step fails
#     fanout2   the same over two instances (each room's sockets split between them)
#     smallrooms  4,500 rooms of 4 sockets placed at random over 4 instances, 1 message/s in each
#               of the first 500 (SENDING_ROOMS): room items each instance receives vs needs (routing by interest); 4,500, not
#               5,000: the load generator holds every socket, and a process may open 20,000 files here
#     room      one room of 2,000 sockets, rate stepped up
#     idle      10,000 sockets joined to rooms of 50, no traffic: connect time and bytes/socket
#     logins    RSS before and after 100 logins, and around 100 concurrent wrong ones
#     logins-fanout  fan-out at 100/room for two steps: without logins, then with 20 logins/s
#     stock     one bot, fake quote service, /stock= commands stepped up (STOCK_RATES)
#     bindings  RabbitMQ's cost of 4,096 shard bindings made and removed one by one, and the
#               publish-confirm latency of one instance while another with 4,096 bindings is killed
#     churn     tests/interest.rs's churn test with CHURN_SOCKETS=150 sockets for CHURN_SECS=20 s:
#               joins and leaves per second, none of them losing or repeating a message
#     history   wrk against GET /v1/chat/rooms/{id}/messages, 64 keep-alive clients
#     search    GET /v1/search over 1,000,000 stored messages, one client, seven kinds of query
#   Knobs (environment): RATES=20,40,... STEP_SECS=10 ROOMS= PER_ROOM= INSTANCES= (fan-out scenarios);
#   LOGINS=100 CONCURRENCY=2 WRONG=100 (logins); CLIENTS=64 DURATION=10 (history).
#   BENCH_BIN=path: measure that server binary (e.g. a build of an older commit) instead.
#   JSON lines of the last run are also kept in target/bench/results.jsonl.
set -euo pipefail
# shellcheck disable=SC2034 # read by scripts/lib.sh
LOG_PREFIX=bench
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Every load-generator connection comes from 127.0.0.1 and a few accounts: lift the per-address
# and per-user caps the way a deployment behind a load balancer would.
export MAX_CONNECTIONS_PER_ADDRESS=0 MAX_SOCKETS_PER_USER=0
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(fanout fanout2 smallrooms room idle logins logins-fanout history stock search bindings churn)
# BENCH_BIN: another server binary to measure (a "before" build), instead of this checkout's.
BENCH_BIN=${BENCH_BIN:-target/release/tickertalk}
cargo build --release --bin tickertalk --example fanout --example bindings
cargo build --release -p tickertalk-bot
mkdir -p target/bench
: >target/bench/results.jsonl
for scenario in "${scenarios[@]}"; do
    log "scenario: $scenario"
    case $scenario in
    fanout | fanout2 | room | idle | logins-fanout | smallrooms)
        instances=${INSTANCES:-1} rooms=${ROOMS:-20} per_room=${PER_ROOM:-50} rates=${RATES-20,40,60,80,100,150,200,250,300,400} logins='' users=50 extra=''
        case $scenario in
        logins-fanout) rates=${RATES-100,100} logins=0,${LOGINS_PER_SEC:-20} ;;
        fanout2) instances=${INSTANCES:-2} ;;
        smallrooms) instances=${INSTANCES:-4} rooms=${ROOMS:-4500} per_room=${PER_ROOM:-4} rates=${RATES-1} users=$(((${ROOMS:-4500} * ${PER_ROOM:-4} + 19) / 20)) extra="--random-placement --sending-rooms ${SENDING_ROOMS:-500}" ;;
        room) rooms=${ROOMS:-1} per_room=${PER_ROOM:-2000} rates=${RATES-25,50,75,100} ;;
        # 20 sockets per account, as in the other scenarios: a user's joins share one budget of
        # 120 per 10 s (chat::CONTROLS_PER_WINDOW), and 200 sockets each would have it refuse.
        idle) rooms=${ROOMS:-200} per_room=${PER_ROOM:-50} rates='' users=$(((${ROOMS:-200} * ${PER_ROOM:-50} + 19) / 20)) ;;
        esac
        # Rate limit lifted: the load is the point. Each step runs STEP_SECS (default 10 s).
        TICKERTALK_BIN=$BENCH_BIN WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-$scenario.log \
            WITH_SERVER_INSTANCES=$instances RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn \
            bash scripts/with-server.sh bash -c 'exec target/release/examples/fanout --base-url "$BASE_URLS" \
                --label "$0" --rooms "$1" --per-room "$2" --rates "$3" --logins-per-sec "$4" --users "$5" --step-secs "${STEP_SECS:-10}" $6' \
            "$scenario" "$rooms" "$per_room" "$rates" "$logins" "$users" "$extra" | tee -a target/bench/results.jsonl
        ;;
    logins)
        # A fresh server: its starting RSS must not include another scenario's hashing.
        TICKERTALK_BIN=$BENCH_BIN WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-logins.log \
            LOGIN_FREE_FAILURES=0 RUST_LOG=warn bash scripts/with-server.sh bash bench/logins.sh
        ;;
    search)
        TICKERTALK_BIN=$BENCH_BIN WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-search.log \
            RUST_LOG=warn bash scripts/with-server.sh bash bench/search.sh | tee -a target/bench/search.txt
        ;;
    history)
        TICKERTALK_BIN=$BENCH_BIN WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-history.log \
            RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn bash scripts/with-server.sh bash bench/history.sh
        ;;
    stock)
        TICKERTALK_BIN=$BENCH_BIN WITH_SERVER_DB_PREFIX=tt_bench WITH_SERVER_LOG=target/bench/server-stock.log \
            RATE_LIMIT_MESSAGES=1000000 QUOTES_PER_MINUTE=0 RUST_LOG=warn bash scripts/with-server.sh bash bench/stock.sh |
            tee -a target/bench/results.jsonl
        ;;
    bindings)
        target/release/examples/bindings --amqp-url "${TEST_AMQP_URL:-$DEFAULT_AMQP_URL}" | tee -a target/bench/results.jsonl
        ;;
    churn)
        # The test is the verifier: it fails on any lost or repeated delivery.
        TEST_DATABASE_URL=${TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL} TEST_AMQP_URL=${TEST_AMQP_URL:-$DEFAULT_AMQP_URL} \
            CHURN_SOCKETS=${CHURN_SOCKETS:-150} CHURN_SECS=${CHURN_SECS:-20} \
            cargo test --release --test interest joins_and_leaves_under_churn -- --nocapture 2>&1 | grep -E '^churn:|test result'
        ;;
    *) die "unknown scenario '$scenario' (fanout, fanout2, smallrooms, room, idle, logins, logins-fanout, history, stock, search, bindings, churn)" ;;
    esac
done
