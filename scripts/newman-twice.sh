#!/usr/bin/env bash
# Runs the Postman collection twice in a row against one server, then proves that the runs left
# nothing behind that a user would see. `make newman` uses it on a throwaway server:
#
#   QA_ROUTES=true bash scripts/with-server.sh bash scripts/newman-twice.sh
#
# Against a server already running (it must have QA_ROUTES=true):
#
#   BASE_URL=http://127.0.0.1:9000 bash scripts/newman-twice.sh [extra newman args...]
#
# 1. tests/newman/nothing-left.js `before`: a checker user records the users and rooms it sees
#    (with each room's last message number) and creates a sentinel room the runs did not create.
# 2. scripts/newman.sh twice; both runs must pass (every assertion, Clean-up included).
# 3. nothing-left.js `after`: the same users and rooms as before, no new message in any room the
#    runs did not create (the sentinel included), an empty inbox; then the checker is deleted.
# 4. With CHECK_DATABASE_URL (or SERVER_DATABASE_URL, when scripts/with-server.sh exports it) set
#    to the server's own, throwaway database: the rows of every table holding what users see
#    (users, rooms, messages, direct messages, keys, sessions, read markers, presence) are counted
#    before step 1 and after step 3 and must be the same. Never point it at a shared database
#    someone else writes to at the same time.
#
# Environment: BASE_URL (set by with-server.sh), CHECK_DATABASE_URL, and what scripts/newman.sh
# reads (NEWMAN_REPORT_DIR writes newman-junit-run1.xml and newman-junit-run2.xml).
# Exit status 0 only when both runs passed and nothing was left.
set -euo pipefail

LOG_PREFIX=newman-twice
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ -n "${BASE_URL:-}" ] || die "set BASE_URL (or run me through scripts/with-server.sh)"
BASE_URL="${BASE_URL%/}"
export BASE_URL
have node || die "node not found: install Node.js 16 or newer"
db_url="${CHECK_DATABASE_URL:-${SERVER_DATABASE_URL:-}}"

# Rows per table of what a user could see (rate_budgets and instances are internal).
count_rows() {
    psql "$db_url" -XAtq -v ON_ERROR_STOP=1 -c "
        SELECT 'users (not stockbot)', count(*) FROM users WHERE username <> 'stockbot'
        UNION ALL SELECT 'rooms', count(*) FROM rooms
        UNION ALL SELECT 'room_messages', count(*) FROM room_messages
        UNION ALL SELECT 'direct_messages', count(*) FROM direct_messages
        UNION ALL SELECT 'api_keys', count(*) FROM api_keys
        UNION ALL SELECT 'sessions', count(*) FROM sessions
        UNION ALL SELECT 'read_markers', count(*) FROM read_markers
        UNION ALL SELECT 'dm_read_markers', count(*) FROM dm_read_markers
        UNION ALL SELECT 'room_presence', count(*) FROM room_presence"
}

if [ -n "$db_url" ]; then
    have psql || die "psql not found: needed for the database check (CHECK_DATABASE_URL)"
    rows_before=$(count_rows)
fi

state="$(mktemp "${TMPDIR:-/tmp}/tickertalk-nothing-left.XXXXXX.json")"
trap 'rm -f "$state"' EXIT
node tests/newman/nothing-left.js before "$state"

failed=()
for run in 1 2; do
    log "run $run of 2"
    if ! NEWMAN_REPORT_NAME="newman-junit-run$run" bash scripts/newman.sh "$@"; then
        failed+=("newman run $run")
    fi
done

node tests/newman/nothing-left.js after "$state" || failed+=("nothing-left check")

if [ -n "$db_url" ]; then
    rows_after=$(count_rows)
    if [ "$rows_before" != "$rows_after" ]; then
        log "rows per table before the runs and after them and their clean-up differ:"
        diff <(echo "$rows_before") <(echo "$rows_after") | sed 's/^/    /' >&2 || true
        failed+=("database check")
    else
        log "database: the same rows as before the runs ($(echo "$rows_after" | tr '\n' ' ' | sed 's/|/ /g; s/ $//'))"
    fi
else
    log "database check skipped (set CHECK_DATABASE_URL to the server's throwaway database to add it)"
fi

if ((${#failed[@]})); then
    die "failed: ${failed[*]}"
fi
log "both runs passed and left nothing behind"
