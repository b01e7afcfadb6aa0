#!/usr/bin/env bash
# make stop-test: `make run` must stop cleanly, with status 0, when Ctrl-C (SIGINT to its
# foreground process group) or an IDE's stop button (SIGINT or SIGTERM to the group) stops it.
# Starts what `make run` starts, each time in a process group of its own, on a free port, its own
# database and broker prefix (a developer's own `make run` is not disturbed), waits until it is
# ready (and the bot's /metrics answers), signals the whole group, and checks: exit status 0,
# "stopped" said, nothing "unexpectedly", the server and the bot gone, the port free.
# GNU make itself always ends by the signal it got (status 130 for SIGINT): it waits for its
# recipe, which stops everything and exits 0, and then re-raises the signal on itself; no
# makefile can change that. So for `make run` the status wanted is 130 and the rest the same.
#   bash scripts/stop-test.sh            scripts/run.sh, then `make run` (its deps and build
#                                        steps must already be done: make test runs this late)
set -euo pipefail
LOG_PREFIX=stop-test
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
need_bins "$TICKERTALK_BIN" "$TICKERTALK_BOT_BIN"

ADMIN_URL=$(database_url)
db="tt_stop_$(random_hex 4)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
out_dir=target/test-output/stop-test
mkdir -p "$out_dir"
DATABASE_URL=$ADMIN_URL "$TICKERTALK_BIN" db create "$db" >/dev/null
url=$(DATABASE_URL=$ADMIN_URL "$TICKERTALK_BIN" db url "$db")
group=""
cleanup() {
    [[ -z $group ]] || kill -KILL -- "-$group" 2>/dev/null || true
    DATABASE_URL=$ADMIN_URL "$TICKERTALK_BIN" db drop "$db" >/dev/null 2>&1 || log "warning: could not drop $db"
    BROKER_PREFIX=$db "$TICKERTALK_BIN" broker-cleanup >/dev/null 2>&1 || true
}
trap cleanup EXIT

# one_stop LABEL SIGNAL WANT COMMAND...: start COMMAND in a new process group, wait for ready,
# signal the group, check how it ended (exit status WANT).
one_stop() {
    local label=$1 signal=$2 want=$3 port bot_port out status=0 pids
    shift 3
    port=$(free_port)
    bot_port=$(free_port)
    out="$out_dir/$label.log"
    # Job control on: the job gets a process group of its own (its pid), as a terminal gives
    # the command it runs.
    set -m
    LISTEN_ADDR="127.0.0.1:$port" BOT_METRICS_ADDR="127.0.0.1:$bot_port" \
        METRICS_ADDR="127.0.0.1:$(free_port)" DATABASE_URL=$url \
        BROKER_PREFIX=$db RUN_LOG_DIR="$out_dir/$label" "$@" >"$out" 2>&1 &
    group=$!
    set +m
    local deadline=$((SECONDS + 120))
    until curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$port/readyz" 2>/dev/null &&
        curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$bot_port/metrics" 2>/dev/null; do
        kill -0 "$group" 2>/dev/null || {
            cat "$out" >&2
            die "$label: exited before it was ready"
        }
        ((SECONDS < deadline)) || {
            cat "$out" >&2
            die "$label: not ready within 120 s"
        }
        sleep 0.5
    done
    pids=$(sed -nE 's/.*started the bot \(pid ([0-9]+)\) and the server \(pid ([0-9]+)\).*/\1 \2/p' "$out")
    [[ -n $pids ]] || die "$label: run.sh did not name its children: $(cat "$out")"
    log "$label: ready on port $port; sending SIG$signal to process group $group"
    kill "-$signal" -- "-$group"
    wait "$group" || status=$?
    group=""
    local pid
    for pid in $pids; do
        ! kill -0 "$pid" 2>/dev/null || die "$label: process $pid is still running"
    done
    ! curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$port/healthz" 2>/dev/null || die "$label: port $port still answers"
    grep -q "unexpectedly" "$out" && die "$label: reported a child exiting unexpectedly: $(cat "$out")"
    grep -q "run: stopped" "$out" || die "$label: never said 'stopped': $(tail -5 "$out")"
    ((status == want)) || die "$label: exit status $status after SIG$signal (want $want); output: $(tail -5 "$out")"
    log "$label: SIG$signal -> exit $status, 'stopped', server and bot gone, port free"
}

one_stop run-sigint INT 0 bash scripts/run.sh
one_stop run-sigterm TERM 0 bash scripts/run.sh
one_stop make-run-sigint INT 130 make -s run
log "OK: make run stops cleanly on Ctrl-C and on a signal to its process group"
