#!/usr/bin/env bash
# The database chore the tickertalk binary does not do itself: a normalised schema dump.
#
#   db.sh dump-schema [<database_url>] <out-file>   schema-only dump, stable across runs and versions
#
# Without <database_url> it dumps DATABASE_URL (the environment, else .env, else the default).
# dump-schema leaves out sqlx's bookkeeping table _sqlx_migrations (SCHEMA_WITH_SQLX=1 keeps it).
# Creating, dropping and resetting databases, and pointing DATABASE_URL at another database, are
# sub-commands of the binary: `tickertalk db create|drop|reset|url` (`tickertalk db --help`).
set -euo pipefail

LOG_PREFIX=db
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}

usage() {
    sed -n '4p' "$0" | sed 's/^#   /usage: /' >&2
    exit 2
}

# Removes what differs between runs and PostgreSQL versions: the random \restrict key (15.14+,
# 16.10+, 17.6+), the "Dumped from/by" versions, the session SET lines (17 added
# transaction_timeout) and the search_path reset, each with the blank line after it; trailing blank
# lines go too. Everything else, function bodies included, is left byte for byte.
normalize_dump() {
    awk '
        /^\\(un)?restrict / || /^-- Dumped (from|by) / || /^SET [a-z_]+ = .*;$/ ||
            /^SELECT pg_catalog\.set_config\(.search_path., .., false\);$/ { skip = 1; next }
        /^$/ { if (skip) { skip = 0 } else { blanks++ } next }
        { skip = 0; for (; blanks > 0; blanks--) print ""; print }
    '
}

cmd_dump_schema() {
    local url out tmp
    case $# in
    1) url=$(database_url) out=$1 ;;
    2) url=$1 out=$2 ;;
    *) usage ;;
    esac
    have pg_dump || die "pg_dump not found (apt-get install postgresql-client)"
    local opts=(--schema-only --no-owner --no-privileges --no-tablespaces)
    [[ ${SCHEMA_WITH_SQLX:-0} == 1 ]] || opts+=(--exclude-table=public._sqlx_migrations)
    mkdir -p "$(dirname "$out")"
    tmp=$(mktemp "$out.XXXXXX")
    # shellcheck disable=SC2064 # expand $tmp now
    trap "rm -f '$tmp'" EXIT
    pg_dump -w "${opts[@]}" -d "$url" | normalize_dump >"$tmp" ||
        die "pg_dump of $(redact "$url") failed"
    mv "$tmp" "$out"
    trap - EXIT
    log "wrote $out ($(wc -l <"$out") lines)"
}

(($# >= 1)) || usage
sub=$1
shift
case $sub in
dump-schema) cmd_dump_schema "$@" ;;
create | drop | reset | url) die "'db.sh $sub' is now '${TICKERTALK_BIN#"$ROOT"/} db $sub' (see its --help)" ;;
-h | --help | help) usage ;;
*) die "unknown command '$sub' (dump-schema)" ;;
esac
