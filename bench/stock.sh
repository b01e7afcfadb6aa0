#!/usr/bin/env bash
# The stock scenario of bench/run.sh, run inside scripts/with-server.sh: starts the fake quote
# service (bench/quotes.py) and one release bot on the server's broker prefix, then has the load
# generator ask /stock= commands at stepped rates (STOCK_RATES) from 50 rooms.
set -euo pipefail
: "${BASE_URL:?run me through scripts/with-server.sh}"
LOG_PREFIX=stock
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
quotes_out=$(mktemp)
python3 bench/quotes.py >"$quotes_out" &
quotes=$!
bot=""
# Wait for the bot to be gone: scripts/with-server.sh deletes the broker prefix's queues next,
# and a bot still connected would declare them again.
trap 'kill $quotes ${bot:+$bot} 2>/dev/null || true; wait ${bot:+$bot} 2>/dev/null || true; rm -f "$quotes_out"' EXIT
for _ in $(seq 50); do [[ -s $quotes_out ]] && break; sleep 0.1; done
port=$(head -1 "$quotes_out")
[[ -n $port ]] || die "the fake quote service did not start"
QUOTE_URL="http://127.0.0.1:$port/q/l/?s={symbol}&f=sd2t2ohlcv&h&e=csv" \
    QUOTE_HISTORY_URL="http://127.0.0.1:$port/q/d/l/?s={symbol}&i=d" RUST_LOG=warn \
    METRICS_ADDR="" "${BENCH_BOT_BIN:-target/release/tickertalk-bot}" >target/bench/bot.log 2>&1 &
bot=$!
# The bot logs nothing at warn once started; it connects within a second here. A command sent
# before it consumes would be answered "unavailable", which the step counts and fails on.
sleep 3
kill -0 "$bot" 2>/dev/null || die "the bot exited: $(tail -5 target/bench/bot.log)"
BOT_PID=$bot target/release/examples/fanout --base-url "$BASE_URLS" --label stock --rooms 50 --per-room 1 \
    --users 10 --rates '' --stock-rates "${STOCK_RATES:-100,250,500,750,1000}" --step-secs "${STEP_SECS:-10}"
