#!/usr/bin/env bash
# Makes PostgreSQL and RabbitMQ available for tickertalk, then makes sure its database exists.
#
# Where the services come from, in order of preference:
#   1. DATABASE_URL / AMQP_URL (environment, else .env, else the contract defaults) already answer;
#   2. `docker info` works: `docker compose up -d` whichever of the two is missing, wait until healthy;
#   3. Debian/Ubuntu as root (or with password-less sudo): apt-get install what is missing, start it
#      locally (pg_ctlcluster, rabbitmq-server -detached) and wait for it.
# Then the role and database named in DATABASE_URL are created if they cannot be logged into, and
# `.env` is written (mode 600, random JWT_SECRET) unless it already exists: it is never overwritten.
#
# Idempotent and non-interactive: a second run only probes. What this script itself started is
# recorded in target/deps/started so that scripts/stop-deps.sh stops exactly that.
#
# Knobs: DEPS_MODE=auto|docker|local (default auto), DEPS_TIMEOUT=seconds per service (default 120).
set -euo pipefail

LOG_PREFIX=deps
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

readonly DEFAULT_LISTEN_ADDR='127.0.0.1:8080'
readonly STATE_FILE="$ROOT/target/deps/started"
MODE=${DEPS_MODE:-auto}
TIMEOUT=${DEPS_TIMEOUT:-120}
# Appended to "needs root" and "no apt-get" errors.
NEED_ROOT_HINT="alternatively start Docker, or point DATABASE_URL and AMQP_URL at running services"

is_local_host() { [[ $1 == localhost || $1 == 127.* || $1 == ::1 ]]; }

# probe HOST PORT REQUEST: sends REQUEST (printf format) and prints the first byte of the answer in
# hex. A bare TCP connect proves little: some networks accept every connection (proxies).
# shellcheck disable=SC2016 # $1..$3 expand in the inner shell
probe() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; printf "$3" >&3; head -c 1 <&3 | od -An -tx1' \
        _ "$1" "$2" "$3" 2>/dev/null | tr -d ' '
}

pg_answers() {
    if have pg_isready; then
        pg_isready -q -t 3 -d "$DATABASE_URL" >/dev/null 2>&1
    else
        # SSLRequest: a PostgreSQL server answers 'S' or 'N'.
        local answer
        answer=$(probe "$PG_HOST" "$PG_PORT" '\x00\x00\x00\x08\x04\xd2\x16\x2f')
        [[ $answer == 53 || $answer == 4e ]]
    fi
}

# AMQP 0-9-1 protocol header: a running broker answers with a method frame (type 1).
amqp_answers() { [[ $(probe "$MQ_HOST" "$MQ_PORT" 'AMQP\x00\x00\x09\x01') == 01 ]]; }

# wait_until SECONDS COMMAND...: runs COMMAND once a second until it succeeds or time runs out.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

record() {
    mkdir -p "$(dirname "$STATE_FILE")"
    grep -qxF "$1" "$STATE_FILE" 2>/dev/null || printf '%s\n' "$1" >>"$STATE_FILE"
}

as_postgres() {
    (
        cd /
        if ((EUID == 0)); then
            if have runuser; then
                runuser -u postgres -- "$@"
            else
                su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
            fi
        elif [[ $(id -un) == postgres ]]; then
            "$@"
        else
            sudo -n -u postgres -- "$@"
        fi
    )
}

# ---------------------------------------------------------------------------------------------
# Docker

compose_state() {
    local id
    id=$(compose ps -q "$1" 2>/dev/null) || return 1
    [[ -n $id ]] || return 1
    docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null
}

compose_healthy() { [[ $(compose_state "$1") == healthy ]]; }

start_with_docker() {
    local svc
    [[ $PG_PORT == 5432 && $MQ_PORT == 5672 ]] ||
        die "docker-compose.yml publishes 5432 and 5672, but DATABASE_URL/AMQP_URL use ports $PG_PORT/$MQ_PORT"
    log "starting $* with docker compose"
    compose up -d "$@" >&2 || die "docker compose up -d $* failed"
    for svc in "$@"; do
        log "waiting for $svc to be healthy (up to ${TIMEOUT}s)"
        if ! wait_until "$TIMEOUT" compose_healthy "$svc"; then
            compose logs --tail 30 "$svc" >&2 || true
            die "$svc did not become healthy within ${TIMEOUT}s (state: $(compose_state "$svc" || echo unknown))"
        fi
        record "compose $svc"
    done
    wait_until 30 pg_answers || die "compose postgres is healthy but $PG_HOST:$PG_PORT does not answer"
    wait_until 30 amqp_answers || die "compose rabbitmq is healthy but $MQ_HOST:$MQ_PORT does not answer"
}

# ---------------------------------------------------------------------------------------------
# Local (Debian/Ubuntu packages)

pg_server_installed() {
    local bin
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $bin ]] && return 0
    done
    return 1
}

newest_pg_version() {
    local bin
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $bin ]] && basename "$(dirname "$(dirname "$bin")")"
    done | sort -V | tail -n 1
}

# Prints "version name status" of the local cluster on port $1, if any.
local_cluster_on_port() {
    have pg_lsclusters || return 1
    pg_lsclusters -h 2>/dev/null | awk -v port="$1" '$3 == port { print $1, $2, $4; found = 1; exit } END { exit !found }'
}

start_local_postgres() {
    is_local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT (DATABASE_URL) does not answer, and it is not on this machine"
    if ! pg_server_installed; then apt_install postgresql; fi
    have pg_ctlcluster || die "a PostgreSQL server is installed, but not Debian's postgresql-common (pg_ctlcluster): start PostgreSQL on port $PG_PORT yourself"

    local cluster ver name status newest
    if ! cluster=$(local_cluster_on_port "$PG_PORT"); then
        # The default URL follows whatever cluster exists; an explicit one must be honoured.
        newest=$(pg_lsclusters -h 2>/dev/null | sort -V | tail -n 1) || true
        if [[ -z $DATABASE_URL_GIVEN && -n $newest ]]; then
            read -r ver name PG_PORT _ <<<"$newest"
            DATABASE_URL="postgres://tickertalk:tickertalk@127.0.0.1:$PG_PORT/tickertalk"
            log "using PostgreSQL cluster $ver/$name on port $PG_PORT"
        elif [[ -n $newest ]]; then
            die "DATABASE_URL uses port $PG_PORT but the local PostgreSQL clusters are on: $(pg_lsclusters -h | awk '{ printf "%s/%s:%s ", $1, $2, $3 }')"
        else
            need_root "create a PostgreSQL cluster"
            ver=$(newest_pg_version)
            log "creating PostgreSQL cluster $ver/main on port $PG_PORT"
            "${SUDO[@]}" pg_createcluster "$ver" main --port "$PG_PORT" >&2
        fi
        cluster=$(local_cluster_on_port "$PG_PORT") || die "no PostgreSQL cluster on port $PG_PORT after setup"
    fi
    read -r ver name status <<<"$cluster"
    if [[ $status != online* ]]; then
        need_root "start PostgreSQL"
        log "starting PostgreSQL cluster $ver/$name (port $PG_PORT)"
        pgctl "$ver" "$name" start >&2 || true # the wait below reports failures with the log
        record "postgres-cluster $ver $name"
    fi
    log "waiting for PostgreSQL on $PG_HOST:$PG_PORT (up to ${TIMEOUT}s)"
    if ! wait_until "$TIMEOUT" pg_answers; then
        tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
        die "PostgreSQL $ver/$name did not accept connections on $PG_HOST:$PG_PORT within ${TIMEOUT}s (log: /var/log/postgresql/postgresql-$ver-$name.log)"
    fi
    log "PostgreSQL $ver/$name is up"
}

rabbit_booted() { "${SUDO[@]}" timeout 60 rabbitmqctl -q await_startup >/dev/null 2>&1; }

start_local_rabbitmq() {
    is_local_host "$MQ_HOST" || die "RabbitMQ at $MQ_HOST:$MQ_PORT (AMQP_URL) does not answer, and it is not on this machine"
    have rabbitmq-server || apt_install rabbitmq-server
    need_root "start RabbitMQ"
    if amqp_answers; then
        log "RabbitMQ answers on $MQ_HOST:$MQ_PORT (started by its package)"
        return 0
    fi
    local started=$SECONDS
    if with_systemd && systemctl cat rabbitmq-server.service >/dev/null 2>&1; then
        log "starting RabbitMQ (systemctl start rabbitmq-server)"
        "${SUDO[@]}" systemctl start rabbitmq-server >&2 || true
        record "rabbitmq systemd"
    elif rabbit_node_running; then
        log "a RabbitMQ node is already booting; waiting for it"
    else
        log "starting RabbitMQ (rabbitmq-server -detached)"
        "${SUDO[@]}" rabbitmq-server -detached >&2 || true
        record "rabbitmq detached"
    fi
    # await_startup fails at once while the Erlang node is not reachable yet, hence the loop.
    log "waiting for RabbitMQ to boot (up to ${TIMEOUT}s; 10-30s is normal)"
    if ! wait_until "$TIMEOUT" rabbit_booted || ! wait_until 30 amqp_answers; then
        tail -n 20 /var/log/rabbitmq/rabbit@*.log >&2 2>/dev/null || true
        die "RabbitMQ did not come up on $MQ_HOST:$MQ_PORT within ${TIMEOUT}s (logs: /var/log/rabbitmq/)"
    fi
    log "RabbitMQ is up (took $((SECONDS - started))s)"
}

# ---------------------------------------------------------------------------------------------
# Role and database

psql_can_login() { PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t -d "$DATABASE_URL" -c 'select 1' 2>&1; }

# Runs as a superuser; variables u, p and d are passed with -v so that psql quotes them.
readonly CREATE_SQL="
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'u', :'p')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'u')
\\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'u', :'p')
\\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'d')
\\gexec
"

ensure_database() {
    local err cluster compose_pg=""
    if ! have psql; then
        log "psql is not installed: not checking that database '$PG_PATH' exists"
        return 0
    fi
    if err=$(psql_can_login); then
        log "database '$PG_PATH' accepts logins as '$PG_USER'"
        return 0
    fi
    local vars=(-v ON_ERROR_STOP=1 -v u="$PG_USER" -v p="$PG_PASS" -v d="$PG_PATH")
    if is_local_host "$PG_HOST" && cluster=$(local_cluster_on_port "$PG_PORT") && [[ $cluster == *online* ]] &&
        id postgres >/dev/null 2>&1; then
        need_root "create the database role"
        log "creating role '$PG_USER' and database '$PG_PATH' as the postgres superuser"
        as_postgres psql -X -q -p "$PG_PORT" -d postgres "${vars[@]}" <<<"$CREATE_SQL" >&2 ||
            die "could not create role '$PG_USER' / database '$PG_PATH'"
    elif docker_usable && compose_pg=$(compose ps -q postgres 2>/dev/null) && [[ -n $compose_pg ]]; then
        log "creating role '$PG_USER' and database '$PG_PATH' in the compose postgres container"
        compose exec -T postgres psql -X -q -U tickertalk -d postgres "${vars[@]}" <<<"$CREATE_SQL" >&2 ||
            die "could not create role '$PG_USER' / database '$PG_PATH' in the compose container"
    else
        die "cannot log in with DATABASE_URL=$(redact "$DATABASE_URL") (${err##*FATAL:  }), and that server is not one this script can administer: create role '$PG_USER' (LOGIN CREATEDB) and database '$PG_PATH' yourself"
    fi
    err=$(psql_can_login) ||
        die "role and database exist but logging in still fails: $err (does pg_hba.conf allow password logins from $PG_HOST?)"
    log "database '$PG_PATH' is ready"
}

# ---------------------------------------------------------------------------------------------

write_env_file() {
    if [[ -e .env ]]; then
        log ".env exists; left unchanged"
        return 0
    fi
    local secret
    secret=$(random_hex 32)
    [[ ${#secret} -ge 64 ]] || die "could not generate a JWT secret"
    (
        umask 077
        set -o noclobber
        cat >.env <<EOF
# Local settings for tickertalk, written by scripts/deps.sh; edit freely, it is never overwritten.
# Variables set in the real environment take precedence over this file.
LISTEN_ADDR=${LISTEN_ADDR:-$DEFAULT_LISTEN_ADDR}
DATABASE_URL=$DATABASE_URL
AMQP_URL=$AMQP_URL
JWT_SECRET=$secret
# ALLOWED_ORIGINS=https://app.example.com   (the server's own address needs no entry)
BROKER_PREFIX=${BROKER_PREFIX:-tickertalk}
# RUST_LOG=info,tickertalk=debug
EOF
    ) || die "could not write .env"
    chmod 600 .env
    log "wrote .env (mode 600) with a new random JWT_SECRET"
}

main() {
    load_env_file .env
    DATABASE_URL_GIVEN=${DATABASE_URL:+1}
    DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}
    AMQP_URL=${AMQP_URL:-$DEFAULT_AMQP_URL}
    parse_url "$DATABASE_URL" PG 5432
    parse_url "$AMQP_URL" MQ 5672
    PG_USER=${PG_USER:-tickertalk}
    PG_PASS=${PG_PASS:-tickertalk}
    PG_PATH=${PG_PATH:-tickertalk}

    local missing=()
    if pg_answers; then log "PostgreSQL answers at $PG_HOST:$PG_PORT"; else log "PostgreSQL does not answer at $PG_HOST:$PG_PORT"; missing+=(postgres); fi
    if amqp_answers; then log "RabbitMQ answers at $MQ_HOST:$MQ_PORT"; else log "RabbitMQ does not answer at $MQ_HOST:$MQ_PORT"; missing+=(rabbitmq); fi

    if ((${#missing[@]})); then
        local how=$MODE
        if [[ $how == auto ]]; then
            if docker_usable; then how=docker; else how=local; fi
        fi
        case $how in
        docker)
            docker_usable || die "DEPS_MODE=docker but 'docker info' fails (is the Docker engine running?)"
            start_with_docker "${missing[@]}"
            ;;
        local)
            if [[ ${missing[*]} == *postgres* ]]; then start_local_postgres; fi
            if [[ ${missing[*]} == *rabbitmq* ]]; then start_local_rabbitmq; fi
            ;;
        *) die "DEPS_MODE must be auto, docker or local (got '$MODE')" ;;
        esac
    fi

    ensure_database
    write_env_file
    log "ready: DATABASE_URL=$(redact "$DATABASE_URL") AMQP_URL=$(redact "$AMQP_URL")"
}

main "$@"
