#!/usr/bin/env bash
# Before/after in one run: for each scenario, measures BEFORE_BIN (a release build of an older
# commit) and then this checkout's release server, one after the other, so both see the same
# machine state. Output as bench/run.sh's, each block headed "=== SCENARIO before|after".
#   bash bench/compare.sh BEFORE_BIN [SCENARIO...]       (default: every scenario)
# To build a before binary: git worktree add /tmp/before COMMIT &&
#   (cd /tmp/before && cargo build --release -p tickertalk -p tickertalk-bot --bins) &&
#   cp /tmp/before/target/release/tickertalk{,-bot} "$(dirname BEFORE_BIN)/"   (the bot beside it is used too)
set -euo pipefail
LOG_PREFIX=compare
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
(($# >= 1)) || die "usage: $0 BEFORE_BIN [SCENARIO...]"
before=$1
shift
[[ -x $before ]] || die "$before is not an executable"
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(fanout fanout2 room idle logins logins-fanout history stock)
# The bot beside the before server, if there is one (the stock scenario needs the pair: the
# two talk through the broker and change together).
before_bot="$(dirname "$before")/tickertalk-bot"
[[ -x $before_bot ]] || before_bot=target/release/tickertalk-bot
# Whichever binary runs second inherits the first one's dirty pages: PostgreSQL checkpoints
# while it is measured (seen here: the second run of a pair failed fan-out at 60/room, in
# either order). A checkpoint before each run starts both from the same state; it needs the
# local cluster's superuser, so it is skipped (with a note) where that is not at hand.
settle() {
    if command -v runuser >/dev/null && runuser -u postgres -- psql -qc CHECKPOINT 2>/dev/null; then
        sleep 2
    else
        echo "compare: no CHECKPOINT (not root on the database host): the second run may be disadvantaged" >&2
    fi
}
for scenario in "${scenarios[@]}"; do
    settle
    echo "=== $scenario before"
    BENCH_BIN=$before BENCH_BOT_BIN=$before_bot bash bench/run.sh "$scenario"
    settle
    echo "=== $scenario after"
    bash bench/run.sh "$scenario"
done
