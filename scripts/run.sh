#!/usr/bin/env bash
# Runs tickertalk locally (what `make run` executes once deps are up and the binaries are built):
# loads .env, runs `tickertalk seed` (migrations, then the default rooms), starts the bot and the
# server in the background with their logs in target/run/, waits for GET /readyz, then waits for
# Ctrl-C/SIGTERM and stops both. If either process exits on its own, its log tail is printed and
# the exit status is non-zero.
#
# Environment: TICKERTALK_BIN (default target/debug/tickertalk), TICKERTALK_BOT_BIN (default
# target/debug/tickertalk-bot; SERVER_BIN and BOT_BIN are accepted too), RUN_LOG_DIR (default
# target/run), READY_TIMEOUT (seconds, default 60), plus everything the server and bot read
# (LISTEN_ADDR, DATABASE_URL, AMQP_URL, JWT_SECRET, ...). METRICS_ADDR is the server's /metrics
# (default 127.0.0.1:9101); the bot's is BOT_METRICS_ADDR (default 127.0.0.1:9102).
set -euo pipefail

LOG_PREFIX=run
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Same rule as dotenvy: real environment variables win over .env.
load_env_file .env
LOG_DIR=${RUN_LOG_DIR:-target/run}
READY_TIMEOUT=${READY_TIMEOUT:-60}
export LISTEN_ADDR=${LISTEN_ADDR:-127.0.0.1:8080}

need_bins "$TICKERTALK_BIN" "$TICKERTALK_BOT_BIN"
[[ -n ${JWT_SECRET:-} ]] || die "JWT_SECRET is not set (run scripts/deps.sh, which writes one into .env)"

# The address to probe and to show: a wildcard listen address is reached through loopback.
host=${LISTEN_ADDR%:*}
port=${LISTEN_ADDR##*:}
case $host in
"" | 0.0.0.0) host=127.0.0.1 ;;
"[::]" | "::") host="[::1]" ;;
esac
BASE_URL="http://$host:$port"

# shellcheck disable=SC2016 # $1/$2 expand in the inner shell
if timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${host//[\[\]]/}" "$port" 2>/dev/null; then
    die "something already listens on $LISTEN_ADDR (another tickertalk?); stop it or set LISTEN_ADDR"
fi

mkdir -p "$LOG_DIR"
SERVER_LOG="$LOG_DIR/server.log"
BOT_LOG="$LOG_DIR/bot.log"

# `seed` applies pending migrations first, then creates the default rooms if missing.
log "migrating and seeding the default rooms ($TICKERTALK_BIN seed)"
"$TICKERTALK_BIN" seed >&2 || die "'$TICKERTALK_BIN seed' failed"

server_pid="" bot_pid=""

alive() {
    local pid
    for pid; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

# Stops both children: SIGTERM, up to 15 s to drain, then SIGKILL.
stop_children() {
    local pid pids=() i
    for pid in "$server_pid" "$bot_pid"; do
        if [[ -n $pid ]] && alive "$pid"; then pids+=("$pid"); fi
    done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        alive "${pids[@]}" || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if alive "$pid"; then
            log "process $pid did not stop within 15s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

on_signal() {
    trap - INT TERM
    log "stopping tickertalk"
    stop_children
    server_pid="" bot_pid=""
    log "stopped"
    exit 0
}

# Reports a child that exited by itself, stops the other one and exits non-zero.
child_exited() {
    local name=$1 pid=$2 logf=$3 status=0
    wait "$pid" 2>/dev/null || status=$?
    if [[ $name == server ]]; then server_pid=""; else bot_pid=""; fi
    log "the $name exited unexpectedly (status $status); last lines of $logf:"
    tail -n 30 "$logf" >&2 || true
    stop_children
    exit $((status == 0 ? 1 : status))
}

check_children() {
    if [[ -n $server_pid ]] && ! alive "$server_pid"; then child_exited server "$server_pid" "$SERVER_LOG"; fi
    if [[ -n $bot_pid ]] && ! alive "$bot_pid"; then child_exited bot "$bot_pid" "$BOT_LOG"; fi
}

trap on_signal INT TERM
trap stop_children EXIT

# Each child in a session of its own: Ctrl-C (or an IDE's stop button, which signals the whole
# process group) then reaches only this script, which stops them in order and exits 0, instead
# of the children dying first and being reported as exiting unexpectedly.
# Both processes read METRICS_ADDR: the bot's comes from BOT_METRICS_ADDR here, so that one
# environment can set both.
setsid env METRICS_ADDR="${BOT_METRICS_ADDR:-127.0.0.1:9102}" "$TICKERTALK_BOT_BIN" >"$BOT_LOG" 2>&1 &
bot_pid=$!
setsid env METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:9101}" "$TICKERTALK_BIN" >"$SERVER_LOG" 2>&1 &
server_pid=$!
log "started the bot (pid $bot_pid) and the server (pid $server_pid); waiting for $BASE_URL/readyz"

deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS -o /dev/null -m 2 "$BASE_URL/readyz" 2>/dev/null; do
    check_children
    if ((SECONDS >= deadline)); then
        log "the server did not become ready within ${READY_TIMEOUT}s; last lines of $SERVER_LOG:"
        tail -n 30 "$SERVER_LOG" >&2 || true
        exit 1
    fi
    sleep 0.5
done

printf '\ntickertalk is running at %s/\n' "$BASE_URL" >&2
printf '  logs: %s (server), %s (bot)\n' "$SERVER_LOG" "$BOT_LOG" >&2
printf '  stop: Ctrl-C\n\n' >&2

# `sleep & wait` instead of a plain sleep, so that a signal is handled at once.
while true; do
    check_children
    sleep 1 &
    wait $! 2>/dev/null || true
done
