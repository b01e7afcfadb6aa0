#!/usr/bin/env bash
# Before/after in one run: for each scenario, measures BEFORE_BIN (a release build of an older
# commit) and then this checkout's release server, one after the other, so both see the same
# machine state. Output as bench/run.sh's, each block headed "=== SCENARIO before|after".
#   bash bench/compare.sh BEFORE_BIN [SCENARIO...]       (default: every scenario)
# To build a before binary: git worktree add /tmp/before COMMIT &&
#   (cd /tmp/before && cargo build --release --bin tickertalk) && cp /tmp/before/target/release/tickertalk BEFORE_BIN
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
for scenario in "${scenarios[@]}"; do
    echo "=== $scenario before"
    BENCH_BIN=$before bash bench/run.sh "$scenario"
    echo "=== $scenario after"
    bash bench/run.sh "$scenario"
done
