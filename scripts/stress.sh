#!/usr/bin/env bash
# The message-path fault tests, run many times in a row (`make stress`): a race shows up as a
# failure in some runs, not in one. Each run is one process with one test at a time, as a test
# run alone on a quiet machine is (the case that hid the delivery hole: it failed alone and
# passed inside the parallel suite).
#
# Environment:
#   STRESS_RUNS   how many runs (default 50)
#   STRESS_TESTS  space-separated `test-file::filter` pairs (default: the message writer's
#                 broker and database fault tests, a stop with posts in flight, and edits in
#                 order across instances and through a broker outage, price refreshes and
#                 alerts with two servers and two bots, joins and leaves racing shard unbinds)
#   TEST_DATABASE_URL, TEST_AMQP_URL  as for `make unit-test`
# Prints one line per failed run (its log is kept in target/test-output/stress/) and ends with
# "stress: N passed, M failed"; exits non-zero when any run failed.
set -euo pipefail
LOG_PREFIX=stress
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

runs=${STRESS_RUNS:-50}
tests=${STRESS_TESTS:-"message_writer::confirms_lost message_writer::a_connection_dropped message_writer::database_connections_killed shutdown::a_stop message_changes::changes_stored_while_the_broker_was_down message_changes::changes_reach_the_other_instance stocks::watchlists_refresh stocks::an_alert_fires stocks::the_same_prices interest::joins_and_leaves interest::a_shard_unbound"}
out=target/test-output/stress
mkdir -p "$out"
rm -f "$out"/*.log "$out"/*.bin

# Build every test binary once; then run the binaries themselves (no cargo between runs).
declare -A binary
for pair in $tests; do
    file=${pair%%::*}
    [[ -n ${binary[$file]:-} ]] && continue
    binary[$file]=$(cargo test --no-run --message-format=json --test "$file" 2>/dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["executable"])' | tail -n 1)
    [[ -x ${binary[$file]} ]] || die "no test binary for $file"
    # A copy: a build meanwhile must not replace the binary under a run.
    cp "${binary[$file]}" "$out/$file.bin"
    binary[$file]=$out/$file.bin
done

passed=0
failed=0
for ((i = 1; i <= runs; i++)); do
    for pair in $tests; do
        file=${pair%%::*}
        filter=${pair#*::}
        log="$out/run-$i-$file-$filter.log"
        if "${binary[$file]}" "$filter" --test-threads=1 >"$log" 2>&1 &&
            grep -q "test result: ok. [1-9]" "$log"; then
            passed=$((passed + 1))
            rm -f "$log"
        else
            failed=$((failed + 1))
            log "run $i: $file $filter FAILED (log: $log)"
        fi
    done
done
echo "stress: $passed passed, $failed failed"
((failed == 0))
