#!/usr/bin/env bash
# Stops what scripts/deps.sh started: the services it recorded in target/deps/started
# (docker compose services, a local PostgreSQL cluster, a local RabbitMQ node).
# Services that were already running before deps.sh are left alone, unless --all is given:
# then the compose services, the local RabbitMQ node and the local PostgreSQL cluster on the
# DATABASE_URL port are stopped whoever started them.
set -euo pipefail

LOG_PREFIX=stop-deps
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
readonly STATE_FILE="$ROOT/target/deps/started"

ALL=0
case ${1:-} in
"") ;;
--all) ALL=1 ;;
-h | --help)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) die "usage: $0 [--all]" ;;
esac

# Root or password-less sudo when available; without either, the stop commands run as this user.
can_root || true

stop_compose() {
    docker_usable || { log "docker is not usable; cannot stop compose services $*"; return 1; }
    log "docker compose stop $*"
    compose stop "$@" >&2
}

stop_rabbitmq() {
    local how=$1
    if [[ $how == systemd ]] && with_systemd; then
        log "stopping RabbitMQ (systemctl stop rabbitmq-server)"
        "${SUDO[@]}" systemctl stop rabbitmq-server
        return
    fi
    have rabbitmqctl || { log "rabbitmqctl not installed; nothing to stop"; return 0; }
    if ! rabbit_node_running; then
        log "RabbitMQ is not running"
        return 0
    fi
    log "stopping RabbitMQ (rabbitmqctl stop)"
    "${SUDO[@]}" timeout 120 rabbitmqctl -q stop >&2
    # `stop` returns before the Erlang VM has exited; a quick restart must not find it still there.
    local i
    for ((i = 0; i < 60; i++)); do
        rabbit_node_running || return 0
        sleep 0.5
    done
    log "warning: the RabbitMQ VM is still running 30s after 'rabbitmqctl stop'"
}

stop_postgres() {
    local ver=$1 name=$2 status
    have pg_ctlcluster || { log "pg_ctlcluster not installed; nothing to stop"; return 0; }
    status=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v n="$name" '$1 == v && $2 == n { print $4 }')
    if [[ $status != online* ]]; then
        log "PostgreSQL $ver/$name is not running"
        return 0
    fi
    log "stopping PostgreSQL cluster $ver/$name"
    pgctl "$ver" "$name" stop >&2
}

entries=()
if [[ -f $STATE_FILE ]]; then
    mapfile -t entries <"$STATE_FILE"
fi

if ((ALL)); then
    # The cluster serving DATABASE_URL's port (environment, .env, or the default).
    parse_url "$(database_url)" PG 5432
    if have pg_lsclusters; then
        while read -r ver name; do entries+=("postgres-cluster $ver $name"); done < <(
            pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2 }'
        )
    fi
    have rabbitmqctl && entries+=("rabbitmq detached")
    if docker_usable && [[ -n $(compose ps -q 2>/dev/null) ]]; then entries+=("compose postgres" "compose rabbitmq"); fi
fi

if ((${#entries[@]} == 0)); then
    log "nothing recorded as started by deps.sh (use --all to stop the local services anyway)"
    exit 0
fi

compose_svcs=() failed=() seen=" "
for entry in "${entries[@]}"; do
    [[ -n $entry && $seen != *" $entry "* ]] || continue
    seen+="$entry "
    read -r kind a b <<<"$entry"
    case $kind in
    compose) compose_svcs+=("$a") ;;
    rabbitmq) stop_rabbitmq "$a" || failed+=("$entry") ;;
    postgres-cluster) stop_postgres "$a" "$b" || failed+=("$entry") ;;
    *) log "ignoring unknown entry '$entry' in $STATE_FILE" ;;
    esac
done
if ((${#compose_svcs[@]})); then
    stop_compose "${compose_svcs[@]}" || for svc in "${compose_svcs[@]}"; do failed+=("compose $svc"); done
fi

if ((${#failed[@]})); then
    printf '%s\n' "${failed[@]}" >"$STATE_FILE"
    die "could not stop: ${failed[*]} (still listed in $STATE_FILE)"
fi
rm -f "$STATE_FILE"
log "done"
