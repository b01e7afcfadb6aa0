#!/usr/bin/env bash
# Runs a command against a live tickertalk server started just for it, on a fresh database and a
# private broker prefix, then stops the server and drops the database.
#
#   scripts/with-server.sh COMMAND [ARGS...]
#
# The command sees BASE_URL, JWT_SECRET, SERVER_PID and SERVER_DATABASE_URL (its database);
# with WITH_SERVER_INSTANCES=N (default 1),
# N instances share the database and broker prefix, and BASE_URLS / SERVER_PIDS list them all
# (comma-separated; BASE_URL and SERVER_PID are the first). AMQP_URL and BROKER_PREFIX are the
# instances' own (a bot started by the command joins them). Needs PostgreSQL and RabbitMQ
# (scripts/deps.sh) and a built server binary. Environment:
#   TEST_DATABASE_URL  admin-capable URL (the role needs CREATEDB); its database name is replaced
#                      by the throwaway one (default: the local default URL)
#   TEST_AMQP_URL      broker URL (default: the local default)
#   TICKERTALK_BIN     server binary (default target/debug/tickertalk; SERVER_BIN is accepted too)
#   WITH_SERVER_DB_PREFIX  name prefix of the throwaway database and broker prefix (default tt_live)
#   WITH_SERVER_PORT   the first instance's port (default: a free one)
#   WITH_SERVER_METRICS_PORT  the first instance's METRICS_ADDR port (default: a free one); the
#                      command gets METRICS_URL (the first's) and METRICS_URLS (all)
#   WITH_SERVER_LOG    server log (default target/test-output/with-server-<database>.log)
#   SIGNUPS_PER_ADDRESS  sign-ups per address per hour (default 0, no limit: a run signs many up)
#   ROOMS_PER_USER     rooms per user per hour (default 0, no limit: benchmarks create thousands)
# Everything else the server reads (RUST_LOG, RATE_LIMIT_MESSAGES, ...) passes through.
set -euo pipefail

LOG_PREFIX=with-server
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
(($# >= 1)) || {
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
}

ADMIN_URL=${TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL}
AMQP=${TEST_AMQP_URL:-$DEFAULT_AMQP_URL}
need_bins "$TICKERTALK_BIN"

# `tickertalk db ...` against the server of ADMIN_URL.
tt_db() { DATABASE_URL=$ADMIN_URL "$TICKERTALK_BIN" db "$@"; }

db="${WITH_SERVER_DB_PREFIX:-tt_live}_$(random_hex 4)"
url=$(tt_db url "$db")
secret=$(random_hex 24)
log=${WITH_SERVER_LOG:-target/test-output/with-server-$db.log}
mkdir -p "$(dirname "$log")"

tt_db create "$db" >/dev/null
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    tt_db drop "$db" >/dev/null 2>&1 || log "warning: could not drop database $db"
    # Durable quorum queues left behind pile up on the broker and slow every restart of it.
    BROKER_PREFIX="$db" AMQP_URL="$AMQP" "$TICKERTALK_BIN" broker-cleanup >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

urls=()
metrics_urls=()
for i in $(seq 1 "${WITH_SERVER_INSTANCES:-1}"); do
    port=$(free_port)
    metrics_port=$(free_port)
    # WITH_SERVER_PORT: the first instance's port (a Prometheus watching a benchmark needs it).
    ((i > 1)) || port=${WITH_SERVER_PORT:-$port}
    ((i > 1)) || metrics_port=${WITH_SERVER_METRICS_PORT:-$metrics_port}
    log_i=$log
    ((i == 1)) || log_i=${log%.log}-$i.log
    LISTEN_ADDR="127.0.0.1:$port" DATABASE_URL="$url" AMQP_URL="$AMQP" JWT_SECRET="$secret" \
        BROKER_PREFIX="$db" RUST_LOG="${RUST_LOG:-info}" SIGNUPS_PER_ADDRESS="${SIGNUPS_PER_ADDRESS:-0}" \
        ROOMS_PER_USER="${ROOMS_PER_USER:-0}" METRICS_ADDR="127.0.0.1:$metrics_port" \
        "$TICKERTALK_BIN" >"$log_i" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
        kill -0 "$pid" 2>/dev/null || {
            log "server exited; log:"
            tail -20 "$log_i" >&2
            exit 1
        }
        sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || {
        log "server not ready; log:"
        tail -20 "$log_i" >&2
        exit 1
    }
    urls+=("http://127.0.0.1:$port")
    metrics_urls+=("http://127.0.0.1:$metrics_port")
done

AMQP_URL="$AMQP" BROKER_PREFIX="$db" BASE_URL="${urls[0]}" BASE_URLS=$(IFS=,; echo "${urls[*]}") JWT_SECRET="$secret" \
    METRICS_URL="${metrics_urls[0]}" METRICS_URLS=$(IFS=,; echo "${metrics_urls[*]}") \
    SERVER_DATABASE_URL="$url" SERVER_PID="${pids[0]}" SERVER_PIDS=$(IFS=,; echo "${pids[*]}") "$@"
