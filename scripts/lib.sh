#!/usr/bin/env bash
# Shared shell helpers; `source` this file (scripts/*.sh, bench/run.sh, Makefile recipes):
#
#   LOG_PREFIX=name                 # before or after sourcing; default: the script's name
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   cd "$ROOT"
#
# Sourcing only sets the variables below and defines functions; it is safe under
# `set -euo pipefail`. Databases are created, dropped, reset and re-pointed by the binary itself
# (`tickertalk db create|drop|reset|url`): no shell code rewrites database URLs.

# The repository root (this file lives in scripts/).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# What the server and the bot assume when DATABASE_URL / AMQP_URL are not set anywhere.
DEFAULT_DATABASE_URL='postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk'
# shellcheck disable=SC2034 # used by the scripts that source this file
DEFAULT_AMQP_URL='amqp://guest:guest@127.0.0.1:5672/%2f'

# The binaries: TICKERTALK_BIN / TICKERTALK_BOT_BIN (SERVER_BIN / BOT_BIN are accepted too),
# relative paths taken from the repository root and made absolute, so that they still work
# after a `cd` and in child processes.
TICKERTALK_BIN=${TICKERTALK_BIN:-${SERVER_BIN:-target/debug/tickertalk}}
TICKERTALK_BOT_BIN=${TICKERTALK_BOT_BIN:-${BOT_BIN:-target/debug/tickertalk-bot}}
[[ $TICKERTALK_BIN != */* || $TICKERTALK_BIN == /* ]] || TICKERTALK_BIN=$ROOT/$TICKERTALK_BIN
[[ $TICKERTALK_BOT_BIN != */* || $TICKERTALK_BOT_BIN == /* ]] || TICKERTALK_BOT_BIN=$ROOT/$TICKERTALK_BOT_BIN

# ---------------------------------------------------------------------------------------------
# Messages

LOG_PREFIX=${LOG_PREFIX:-$(basename "$0" .sh)}
log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# need_bins BIN...: every BIN is an executable file, else a hint to build it.
need_bins() {
    local bin
    for bin; do
        [[ -x $bin ]] || die "$bin is missing: build it first (cargo build --workspace)"
    done
}

# random_hex BYTES: that many random bytes as lower-case hex.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# ---------------------------------------------------------------------------------------------
# Settings and URLs

# Reads KEY=VALUE lines from a dotenv file without overriding variables already set (the same
# rule as dotenvy). Not `source`d: values such as QUOTE_URL contain `&` and `{}`.
load_env_file() {
    local file=$1 line key val
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        val=${BASH_REMATCH[3]}
        val=${val#"${val%%[![:space:]]*}"}
        if [[ $val =~ ^\"([^\"]*)\"[[:space:]]*(#.*)?$ || $val =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]]; then
            val=${BASH_REMATCH[1]}
        else
            val=${val%%[[:space:]]#*}
            val=${val%"${val##*[![:space:]]}"}
        fi
        [[ -n ${!key+x} ]] && continue
        export "$key=$val"
    done <"$file"
}

# The DATABASE_URL the binary uses: the environment, else .env in the repository root, else the
# default.
database_url() {
    load_env_file "$ROOT/.env"
    printf '%s\n' "${DATABASE_URL:-$DEFAULT_DATABASE_URL}"
}

urldecode() { local s=${1//\\/\\\\}; printf '%b' "${s//%/\\x}"; }

# Hides the password of a URL in messages.
redact() { sed -E 's#(://[^:@/]*):[^@/]*@#\1:***@#' <<<"$1"; }

# parse_url URL PREFIX DEFAULT_PORT: sets PREFIX_USER, PREFIX_PASS, PREFIX_HOST, PREFIX_PORT and
# PREFIX_PATH (decoded, without the leading slash). For what the shell must know before the binary
# can connect (deps.sh creating the role, stop-deps.sh finding the cluster's port).
parse_url() {
    local url=$1 p=$2 default_port=$3
    local re='^[A-Za-z][A-Za-z0-9+.-]*://(([^:@/]*)(:([^@/]*))?@)?(\[[^]/]*\]|[^:/?#]*)(:([0-9]*))?(/[^?#]*)?'
    [[ $url =~ $re ]] || die "cannot parse URL '$(redact "$url")'"
    local host=${BASH_REMATCH[5]}
    host=${host#\[}
    host=${host%\]}
    printf -v "${p}_USER" '%s' "$(urldecode "${BASH_REMATCH[2]}")"
    printf -v "${p}_PASS" '%s' "$(urldecode "${BASH_REMATCH[4]}")"
    printf -v "${p}_HOST" '%s' "${host:-localhost}"
    printf -v "${p}_PORT" '%s' "${BASH_REMATCH[7]:-$default_port}"
    printf -v "${p}_PATH" '%s' "$(urldecode "${BASH_REMATCH[8]#/}")"
}

# ---------------------------------------------------------------------------------------------
# Privileges and packages

# Privilege for installing and starting system services: root, or sudo that needs no password
# (then SUDO=(sudo -n)). With SUDO_MAY_PROMPT=1 and a terminal on stdin, sudo may ask for one.
SUDO=()
can_root() {
    ((EUID == 0)) && return 0
    if have sudo && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
        return 0
    fi
    if [[ ${SUDO_MAY_PROMPT:-0} == 1 && -t 0 ]] && have sudo; then
        SUDO=(sudo)
        return 0
    fi
    return 1
}

# need_root WHAT: as can_root, else dies naming WHAT; NEED_ROOT_HINT is appended to the message.
need_root() {
    can_root || die "to $1 this script needs root (or password-less sudo)${NEED_ROOT_HINT:+; $NEED_ROOT_HINT}"
}

# apt_install PACKAGE...: non-interactive, waits for a busy dpkg lock, retries after refreshing
# the package lists.
apt_install() {
    have apt-get || die "$* is missing and this is not a Debian/Ubuntu system (no apt-get): install it yourself${NEED_ROOT_HINT:+; $NEED_ROOT_HINT}"
    need_root "install $*"
    local logf attempt
    local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    logf=$(mktemp /tmp/tickertalk-apt.XXXXXX)
    log "installing $* with apt-get (can take a few minutes; waits for a busy dpkg lock; log: $logf)"
    for attempt in 1 2 3; do
        if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >>"$logf" 2>&1; then
            log "installed $*"
            rm -f "$logf"
            return 0
        fi
        ((attempt < 3)) || break
        log "apt-get install failed (attempt $attempt); refreshing package lists and retrying"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=600 >>"$logf" 2>&1 ||
            sleep 10
    done
    tail -n 20 "$logf" >&2
    die "could not install $* (full log: $logf)"
}

# need_node MAJOR: node (at least version MAJOR) and npm, installed with apt-get when missing.
need_node() {
    if ! have node || ! have npm; then apt_install nodejs npm; fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= $1)) || die "node >= $1 is needed (found $(node --version))"
}

# ---------------------------------------------------------------------------------------------
# Local services and Docker

with_systemd() { [[ -d /run/systemd/system ]]; }

# pg_ctlcluster, run directly rather than through systemctl when there is no systemd.
pgctl() {
    if with_systemd; then
        "${SUDO[@]}" pg_ctlcluster "$@"
    else
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$@"
    fi
}

rabbit_node_running() { pgrep -u rabbitmq -f beam >/dev/null 2>&1; }

docker_usable() { have docker && timeout 20 docker info >/dev/null 2>&1; }

# docker compose (or docker-compose) in the repository root. The compose file requires
# JWT_SECRET for the server; starting or stopping only postgres/rabbitmq must not.
compose() {
    if docker compose version >/dev/null 2>&1; then
        (cd "$ROOT" && JWT_SECRET=${JWT_SECRET:-unused-by-deps} docker compose "$@")
    elif have docker-compose; then
        (cd "$ROOT" && JWT_SECRET=${JWT_SECRET:-unused-by-deps} docker-compose "$@")
    else
        printf '%s: error: %s\n' "$LOG_PREFIX" "docker works but neither 'docker compose' nor 'docker-compose' is installed" >&2
        return 127
    fi
}
