#!/usr/bin/env bash
# Database chores for the Makefile.
#
#   db.sh dump-schema <database_url> <out-file>   schema-only dump, stable across runs and versions
#   db.sh create <admin_database_url> <dbname>    create the database if it does not exist
#   db.sh drop <admin_database_url> <dbname>      drop the database if it exists (closing sessions)
#   db.sh reset                                   drop and recreate the database named in DATABASE_URL
#
# For create/drop the URL's database name is replaced by `postgres` (the role needs CREATEDB, which
# scripts/deps.sh grants). DATABASE_URL comes from the environment, else .env, else the default.
# dump-schema leaves out sqlx's bookkeeping table _sqlx_migrations (SCHEMA_WITH_SQLX=1 keeps it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly DEFAULT_DATABASE_URL='postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk'
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}

log() { printf 'db: %s\n' "$*" >&2; }
die() { printf 'db: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '4,7p' "$0" | sed 's/^#   /usage: /' >&2; exit 2; }

command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"

redact() { sed -E 's#(://[^:@/]*):[^@/]*@#\1:***@#' <<<"$1"; }
urldecode() { local s=${1//\\/\\\\}; printf '%b' "${s//%/\\x}"; }

readonly URL_RE='^(postgres(ql)?://[^/?#]*)(/[^?#]*)?(\?[^#]*)?$'

# The same URL pointing at database $2.
url_with_db() {
    [[ $1 =~ $URL_RE ]] || die "not a postgres:// URL: $(redact "$1")"
    printf '%s/%s%s' "${BASH_REMATCH[1]}" "$2" "${BASH_REMATCH[4]}"
}

url_db() {
    [[ $1 =~ $URL_RE ]] || die "not a postgres:// URL: $(redact "$1")"
    local db
    db=$(urldecode "${BASH_REMATCH[3]#/}")
    [[ -n $db ]] || die "no database name in $(redact "$1")"
    printf '%s' "$db"
}

check_name() {
    [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_$-]{0,62}$ ]] || die "refusing odd database name '$1'"
    [[ $1 != postgres && $1 != template0 && $1 != template1 ]] || die "refusing to touch the '$1' database"
}

psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql -X -w -q -v ON_ERROR_STOP=1 -d "$(url_with_db "$1" postgres)" "${@:2}"; }

database_url() {
    if [[ -z ${DATABASE_URL:-} && -f $ROOT/.env ]]; then
        DATABASE_URL=$(sed -nE 's/^[[:space:]]*(export[[:space:]]+)?DATABASE_URL[[:space:]]*=[[:space:]]*//p' "$ROOT/.env" |
            tail -n 1 | sed -E "s/^[\"'](.*)[\"'][[:space:]]*\$/\\1/; s/[[:space:]]+#.*\$//; s/[[:space:]]+\$//")
    fi
    printf '%s' "${DATABASE_URL:-$DEFAULT_DATABASE_URL}"
}

cmd_create() {
    (($# == 2)) || usage
    local url=$1 db=$2 exists
    check_name "$db"
    exists=$(psql_admin "$url" -A -t -v d="$db" <<<"SELECT count(*) FROM pg_database WHERE datname = :'d';") ||
        die "cannot connect via $(redact "$(url_with_db "$url" postgres)")"
    if ((exists)); then
        log "database '$db' already exists"
        return 0
    fi
    psql_admin "$url" -v d="$db" <<<"SELECT format('CREATE DATABASE %I', :'d') \gexec" ||
        die "could not create database '$db'"
    log "created database '$db'"
}

cmd_drop() {
    (($# == 2)) || usage
    local url=$1 db=$2 version force=""
    check_name "$db"
    version=$(psql_admin "$url" -A -t -c 'SHOW server_version_num') ||
        die "cannot connect via $(redact "$(url_with_db "$url" postgres)")"
    # WITH (FORCE) (PostgreSQL 13+) ends other sessions, e.g. a server left running.
    ((version >= 130000)) && force=" WITH (FORCE)"
    psql_admin "$url" -v d="$db" <<SQL || die "could not drop database '$db'"
SELECT format('DROP DATABASE IF EXISTS %I$force', :'d')
\\gexec
SQL
    log "database '$db' dropped (if it existed)"
}

cmd_reset() {
    (($# == 0)) || usage
    local url db
    url=$(database_url)
    db=$(url_db "$url")
    log "resetting database '$db' ($(redact "$url"))"
    cmd_drop "$url" "$db"
    cmd_create "$url" "$db"
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
    (($# == 2)) || usage
    local url=$1 out=$2 tmp
    command -v pg_dump >/dev/null 2>&1 || die "pg_dump not found (apt-get install postgresql-client)"
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
create) cmd_create "$@" ;;
drop) cmd_drop "$@" ;;
reset) cmd_reset "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command '$sub' (dump-schema, create, drop, reset)" ;;
esac
