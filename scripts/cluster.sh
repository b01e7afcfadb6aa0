#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this one machine, for the broker failover test (issue #28):
# nodes tt1@localhost, tt2@localhost and tt3@localhost on AMQP ports 5681, 5682 and 5683
# (loopback only), beside the single node rabbit@<hostname> on 5672 that the other tests use,
# which it leaves alone: other node names, ports, data, logs and pid files.
#
#   bash scripts/cluster.sh start          # start the nodes, cluster them; prints AMQP_URL=...
#   bash scripts/cluster.sh urls           # the AMQP URLs of the three nodes, comma-separated
#   bash scripts/cluster.sh status         # which nodes are up, and cluster_status (exit 0: all 3)
#   bash scripts/cluster.sh kill N         # SIGKILL to node ttN's Erlang VM: a crash, no goodbye
#   bash scripts/cluster.sh start-node N   # start ttN again: it rejoins the cluster by itself
#   bash scripts/cluster.sh stop           # stop the three gracefully, keeping their data
#   bash scripts/cluster.sh reset          # stop them and delete CLUSTER_DIR (= stop --wipe)
#   bash scripts/cluster.sh ctl N ARGS...  # rabbitmqctl ARGS against ttN, e.g. `ctl 2 list_queues`
#
# `start` is idempotent (on a running cluster it only prints the URLs) and also brings back nodes
# that were killed or stopped; after `stop` the same cluster comes back, data included. Every wait
# has a deadline; when a node does not make it, the end of its log is shown and the exit status
# is non-zero. Only the AMQP_URL line (and the output of urls/status/ctl) goes to stdout.
#
# Knobs: CLUSTER_PORT (AMQP port of tt1, default 5681; ttN uses CLUSTER_PORT+N-1 and Erlang
# distribution on that +20000), CLUSTER_DIR (data, logs, pid files and the Erlang cookie; default
# /var/tmp/tickertalk-cluster), CLUSTER_TIMEOUT (seconds per wait, default 120), CLUSTER_NAME
# (node name prefix, default tt: a second cluster on the same machine, such as the failover
# test's, needs names of its own).
#
# The nodes run as the invoking user, straight from /usr/lib/rabbitmq/bin as the tests' private
# brokers do (tests/common/children.rs), not through Debian's /usr/sbin wrappers: those `su` to
# the rabbitmq user, and lib.sh's rabbit_node_running (pgrep -u rabbitmq beam) would then take a
# cluster node for the normal one (deps.sh would wait for it, stop-deps.sh for its exit). Servers
# and rabbitmqctl alike get HOME=CLUSTER_DIR, so all read CLUSTER_DIR/.erlang.cookie: a copy of
# /var/lib/rabbitmq/.erlang.cookie where readable (then Debian's own `rabbitmqctl -n tt1@localhost`
# and `rabbitmq-diagnostics -n tt1@localhost` work too), else a random one.
set -euo pipefail

LOG_PREFIX=cluster
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_DIR=${CLUSTER_DIR:-/var/tmp/tickertalk-cluster}
[[ $CLUSTER_DIR == /* ]] || CLUSTER_DIR=$PWD/$CLUSTER_DIR
CLUSTER_DIR=${CLUSTER_DIR%/}
readonly CLUSTER_DIR
readonly BASE_PORT=${CLUSTER_PORT:-5681}
readonly TIMEOUT=${CLUSTER_TIMEOUT:-120}
readonly NODES=(1 2 3)
RABBIT_BIN=/usr/lib/rabbitmq/bin
readonly SYSTEM_COOKIE=/var/lib/rabbitmq/.erlang.cookie
# Present in CLUSTER_DIR once this script made it: `reset` deletes no directory without it.
readonly MARKER=.tickertalk-cluster
cd "$ROOT"

if ! [[ $BASE_PORT =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT + 2 + 20000 > 65535)); then
    die "CLUSTER_PORT must be a port number from 1024 to 45533 (got '$BASE_PORT')"
fi
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "CLUSTER_TIMEOUT must be a number of seconds (got '$TIMEOUT')"
[[ -n ${CLUSTER_DIR//\//} ]] || die "CLUSTER_DIR cannot be /"

node() { printf '%s%s@localhost' "${CLUSTER_NAME:-tt}" "$1"; }
amqp_port() { printf '%s' $((BASE_PORT + $1 - 1)); }
dist_port() { printf '%s' $((BASE_PORT + $1 - 1 + 20000)); }
node_dir() { printf '%s/tt%s' "$CLUSTER_DIR" "$1"; }
node_log() { printf '%s/log/%s.log' "$(node_dir "$1")" "$(node "$1")"; }

urls() {
    local n list=()
    for n in "${NODES[@]}"; do list+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"); done
    (
        IFS=,
        printf '%s\n' "${list[*]}"
    )
}

node_arg() {
    [[ ${1:-} =~ ^[123]$ ]] || die "usage: $0 ${2:-kill|start-node} N   (N = 1, 2 or 3)"
}

# ---------------------------------------------------------------------------------------------
# Running RabbitMQ's programs as one of the nodes

need_rabbit() {
    [[ -x $RABBIT_BIN/rabbitmq-server ]] && return 0
    have rabbitmq-server || apt_install rabbitmq-server
    # Not Debian's layout: the rabbitmq-server on the PATH is the real script.
    [[ -x $RABBIT_BIN/rabbitmq-server ]] ||
        RABBIT_BIN=$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")
    [[ -x $RABBIT_BIN/rabbitmq-server && -x $RABBIT_BIN/rabbitmqctl ]] ||
        die "cannot find RabbitMQ's scripts (looked in /usr/lib/rabbitmq/bin and $RABBIT_BIN)"
}

# rabbit N SECONDS PROGRAM ARGS...: PROGRAM (rabbitmq-server, rabbitmqctl, rabbitmq-diagnostics)
# with node N's environment, killed after SECONDS. RABBITMQ_* variables of the caller are dropped
# (a RABBITMQ_NODENAME or RABBITMQ_USE_LONGNAME meant for the normal node must not leak in), and
# /etc/rabbitmq's files are replaced by CLUSTER_DIR's (the env file and advanced.config by none).
rabbit() {
    local n=$1 secs=$2 program=$3 var
    shift 3
    local dir drop=()
    dir=$(node_dir "$n")
    while IFS= read -r var; do
        [[ $var == RABBITMQ_* ]] && drop+=(-u "$var")
    done < <(compgen -e)
    (
        cd "$dir"
        # Without the lock's descriptor: a detached VM would hold the lock for its whole life.
        exec 9>&-
        exec timeout "$secs" env "${drop[@]}" \
            HOME="$CLUSTER_DIR" \
            RABBITMQ_NODENAME="$(node "$n")" \
            RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
            RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
            RABBITMQ_DIST_PORT="$(dist_port "$n")" \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
            RABBITMQ_CONFIG_FILE="$CLUSTER_DIR/rabbitmq.conf" \
            RABBITMQ_ADVANCED_CONFIG_FILE="$CLUSTER_DIR/none/advanced.config" \
            RABBITMQ_CONF_ENV_FILE="$CLUSTER_DIR/none/rabbitmq-env.conf" \
            RABBITMQ_ENABLED_PLUGINS_FILE="$CLUSTER_DIR/enabled_plugins" \
            RABBITMQ_MNESIA_BASE="$dir/mnesia" \
            RABBITMQ_LOG_BASE="$dir/log" \
            RABBITMQ_PID_FILE="$dir/pid" \
            ERL_CRASH_DUMP="$dir/erl_crash.dump" \
            "$RABBIT_BIN/$program" "$@"
    )
}

# ctl N SECONDS ARGS...: rabbitmqctl ARGS against node N.
ctl() {
    local n=$1 secs=$2
    shift 2
    rabbit "$n" "$secs" rabbitmqctl -n "$(node "$n")" "$@"
}

# is_vm N PID: PID is node N's Erlang VM (its environment names the node and this CLUSTER_DIR).
# A zombie has an empty environment: this container's PID 1 may never reap a killed VM.
is_vm() {
    local env=/proc/$2/environ
    grep -qzxF "RABBITMQ_NODENAME=$(node "$1")" "$env" 2>/dev/null &&
        grep -qzxF "RABBITMQ_MNESIA_BASE=$(node_dir "$1")/mnesia" "$env" 2>/dev/null
}

# vm_pid N: prints the OS pid of node N's Erlang VM if it runs: from its pid file
# (RABBITMQ_PID_FILE, written early in the boot), else by looking at the beam processes.
vm_pid() {
    local n=$1 pid="" file
    file=$(node_dir "$n")/pid
    [[ -r $file ]] && pid=$(tr -dc '0-9' <"$file")
    if [[ -n $pid ]] && is_vm "$n" "$pid"; then
        printf '%s\n' "$pid"
        return 0
    fi
    for pid in $(pgrep beam 2>/dev/null); do
        if is_vm "$n" "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

# A node of this name running from another CLUSTER_DIR (its pid), if any.
foreign_vm() {
    local pid
    for pid in $(pgrep beam 2>/dev/null); do
        if grep -qzxF "RABBITMQ_NODENAME=$(node "$1")" "/proc/$pid/environ" 2>/dev/null && ! is_vm "$1" "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

# shellcheck disable=SC2016 # $1 expands in the inner shell
port_taken() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# AMQP 0-9-1 protocol header: a running broker answers with a method frame (type 1).
# shellcheck disable=SC2016 # $1 expands in the inner shell
amqp_answers() {
    [[ $(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; printf "AMQP\x00\x00\x09\x01" >&3; head -c 1 <&3 | od -An -tx1' \
        _ "$(amqp_port "$1")" 2>/dev/null | tr -d ' ') == 01 ]]
}

# show_log N: the end of node N's log (and of what rabbitmq-server printed while detaching).
show_log() {
    local n=$1 f dir
    dir=$(node_dir "$n")
    for f in "$dir/log/start.log" "$(node_log "$n")"; do
        [[ -s $f ]] || continue
        printf '%s: ---- last lines of %s\n' "$LOG_PREFIX" "$f" >&2
        tail -n 30 "$f" >&2
    done
    [[ -s $(node_log "$n") ]] || log "$(node "$n") has written no log yet ($(node_log "$n"))"
    if [[ -f $dir/erl_crash.dump ]]; then
        log "the Erlang VM left $dir/erl_crash.dump: $(grep -m1 '^Slogan' "$dir/erl_crash.dump" || true)"
    fi
}

node_failed() {
    show_log "$1"
    die "$(node "$1") $2"
}

# ---------------------------------------------------------------------------------------------
# Steps

prepare() {
    need_rabbit
    mkdir -p "$CLUSTER_DIR"
    if [[ ! -e $CLUSTER_DIR/$MARKER ]]; then
        [[ -z $(ls -A "$CLUSTER_DIR") ]] || die "$CLUSTER_DIR is not empty and was not made by this script: set CLUSTER_DIR"
        touch "$CLUSTER_DIR/$MARKER"
    fi
    local n cookie=$CLUSTER_DIR/.erlang.cookie
    for n in "${NODES[@]}"; do mkdir -p "$(node_dir "$n")/mnesia" "$(node_dir "$n")/log"; done
    if [[ ! -s $cookie ]]; then
        (
            umask 077
            if [[ -r $SYSTEM_COOKIE ]]; then
                tr -d '\n' <"$SYSTEM_COOKIE" >"$cookie"
            else
                random_hex 20 | tr 'a-f' 'A-F' >"$cookie"
            fi
        )
        chmod 400 "$cookie"
    fi
    # No plugins: the management plugin's port (15672) would clash between the nodes.
    printf '[].\n' >"$CLUSTER_DIR/enabled_plugins"
    cat >"$CLUSTER_DIR/rabbitmq.conf" <<'EOF'
# Written by scripts/cluster.sh for tt1..tt3@localhost (overwritten at each start). Node names,
# ports and paths come from its RABBITMQ_* environment variables; this file stands in for
# /etc/rabbitmq/rabbitmq.conf, which belongs to the normal node.
# guest may log in from loopback only (the default, said out loud): the URLs use 127.0.0.1.
loopback_users.guest = true
# Instead of "tt1@<host name>"; only shown by cluster_status and to clients.
cluster_name = tickertalk-test-cluster
EOF
}

# Serialises this script's commands that start, stop or kill nodes.
take_lock() {
    have flock || return 0
    mkdir -p "$(dirname "$CLUSTER_DIR")"
    exec 9>>"$CLUSTER_DIR.lock"
    flock -w "$TIMEOUT" 9 || die "another 'cluster.sh' holds $CLUSTER_DIR.lock for over ${TIMEOUT}s"
}

launch() {
    local n=$1 dir pid port
    dir=$(node_dir "$n")
    if pid=$(foreign_vm "$n"); then
        die "$(node "$n") already runs from another directory (pid $pid): stop it, or use its CLUSTER_DIR"
    fi
    for port in "$(amqp_port "$n")" "$(dist_port "$n")"; do
        ! port_taken "$port" || die "port $port (for $(node "$n")) is taken by another program: choose another CLUSTER_PORT"
    done
    rm -f "$dir/pid" "$dir/erl_crash.dump"
    log "starting $(node "$n"): AMQP on 127.0.0.1:$(amqp_port "$n"), distribution on $(dist_port "$n")"
    if ! rabbit "$n" 60 rabbitmq-server -detached >"$dir/log/start.log" 2>&1; then
        node_failed "$n" "could not be started (rabbitmq-server -detached failed)"
    fi
}

# await N: waits until node N has booted (rabbitmqctl await_startup) and answers AMQP.
# await_startup fails at once while the Erlang node is not reachable yet, hence the loop.
await() {
    local n=$1 deadline=$((SECONDS + TIMEOUT)) gone=0 left
    while
        left=$((deadline - SECONDS))
        ((left = left > 30 ? 30 : left < 1 ? 1 : left))
        ! { ctl "$n" $((left + 10)) -q await_startup --timeout "$left" >/dev/null 2>&1 && amqp_answers "$n"; }
    do
        if vm_pid "$n" >/dev/null; then
            gone=0
        else
            # Right after -detached the VM is there; it vanishing means it crashed.
            gone=$((gone + 1))
            ((gone < 5)) || node_failed "$n" "stopped while booting"
        fi
        ((SECONDS < deadline)) || node_failed "$n" "did not boot within ${TIMEOUT}s"
        sleep 1
    done
}

# in_cluster N: node N (booted) has tt1 among its cluster's members.
in_cluster() {
    [[ $(ctl "$1" 30 -q eval "lists:member('$(node 1)', rabbit_mnesia:cluster_nodes(all)).") == true ]]
}

# running_members N: the nodes node N sees running RabbitMQ in its cluster, sorted.
running_members() {
    ctl "$1" 30 -q eval 'lists:sort(rabbit_nodes:all_running()).' 2>/dev/null | tr -d " '\n"
}

# join N: makes node N, booted on its own, a member of tt1's cluster. Its own data (a fresh node's
# defaults) goes: `reset` is what the clustering guide does before join_cluster.
join() {
    local n=$1 out
    out=$(node_dir "$n")/log/join.log
    log "joining $(node "$n") to $(node 1)'s cluster"
    # What the CLI prints meanwhile (feature flag warnings, "Failed to create a tracked connection
    # table ... node_not_running" while the app is stopped) is normal for 3.10: kept in join.log.
    if ! {
        ctl "$n" 60 -q stop_app &&
            ctl "$n" 60 -q reset &&
            ctl "$n" 120 -q join_cluster "$(node 1)" &&
            ctl "$n" 120 -q start_app
    } >"$out" 2>&1; then
        printf '%s: ---- %s\n' "$LOG_PREFIX" "$out" >&2
        cat "$out" >&2
        node_failed "$n" "could not join $(node 1)"
    fi
    await "$n"
    in_cluster "$n" || node_failed "$n" "still does not list $(node 1) as a member after join_cluster"
}

# stop_node N: graceful stop, then waits for the VM to exit; 1 (and its log shown) if it did not.
stop_node() {
    local n=$1 pid deadline
    if ! pid=$(vm_pid "$n"); then
        log "$(node "$n") is not running"
        return 0
    fi
    log "stopping $(node "$n") (pid $pid)"
    ctl "$n" "$TIMEOUT" -q stop >&2 || log "rabbitmqctl stop failed for $(node "$n"); waiting for its VM anyway"
    deadline=$((SECONDS + TIMEOUT))
    while is_vm "$n" "$pid"; do
        if ((SECONDS >= deadline)); then
            show_log "$n"
            log "$(node "$n") (pid $pid) did not stop within ${TIMEOUT}s"
            return 1
        fi
        sleep 0.5
    done
}

all_up() {
    local n
    for n in "${NODES[@]}"; do
        vm_pid "$n" >/dev/null && amqp_answers "$n" || return 1
    done
    [[ $(running_members 1) == "[$(node 1),$(node 2),$(node 3)]" ]]
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
    take_lock
    prepare
    local n pid started=$SECONDS
    if all_up; then
        log "the cluster is already up ($(node 1), $(node 2), $(node 3))"
    else
        for n in "${NODES[@]}"; do
            if pid=$(vm_pid "$n"); then
                log "$(node "$n") is running (pid $pid)"
            else
                launch "$n"
            fi
        done
        # All three are launched before any is waited for: after `stop`, a node's boot waits for
        # the others (Mnesia wants the last node that went down).
        for n in "${NODES[@]}"; do
            await "$n"
            log "$(node "$n") is up ($((SECONDS - started))s)"
        done
        for n in "${NODES[@]:1}"; do
            in_cluster "$n" || join "$n"
        done
        local members
        members=$(running_members 1)
        [[ $members == "[$(node 1),$(node 2),$(node 3)]" ]] ||
            die "after start, $(node 1) sees these nodes running: $members"
        log "cluster up: $(node 1), $(node 2), $(node 3) (took $((SECONDS - started))s; data and logs: $CLUSTER_DIR)"
    fi
    printf 'AMQP_URL=%s\n' "$(urls)"
}

cmd_start_node() {
    local n=$1 pid started=$SECONDS
    take_lock
    prepare
    if pid=$(vm_pid "$n"); then
        log "$(node "$n") is running (pid $pid)"
    else
        launch "$n"
    fi
    await "$n"
    if ((n != 1)) && ! in_cluster "$n"; then join "$n"; fi
    log "$(node "$n") is up (took $((SECONDS - started))s); running in its cluster: $(running_members "$n")"
}

cmd_kill() {
    local n=$1 pid deadline
    take_lock
    pid=$(vm_pid "$n") || die "$(node "$n") is not running"
    kill -KILL "$pid"
    deadline=$((SECONDS + 15))
    while is_vm "$n" "$pid"; do
        ((SECONDS < deadline)) || die "$(node "$n") (pid $pid) is still there 15s after SIGKILL"
        sleep 0.2
    done
    log "killed $(node "$n") (pid $pid) with SIGKILL"
}

cmd_stop() {
    take_lock
    local n failed=()
    # tt1 last: it is then the first a restart waits for, and the node the others joined.
    for n in 3 2 1; do
        stop_node "$n" || failed+=("$(node "$n")")
    done
    ((${#failed[@]} == 0)) || die "did not stop: ${failed[*]}"
    log "stopped (data kept in $CLUSTER_DIR; 'reset' deletes it)"
}

cmd_reset() {
    take_lock
    local n pid
    if [[ -e $CLUSTER_DIR && ! -e $CLUSTER_DIR/$MARKER ]]; then
        die "$CLUSTER_DIR was not made by this script; not deleting it"
    fi
    for n in 3 2 1; do
        if ! stop_node "$n" && pid=$(vm_pid "$n"); then
            log "SIGKILL to $(node "$n") (pid $pid): its data is being deleted anyway"
            kill -KILL "$pid" || true
        fi
    done
    rm -rf "$CLUSTER_DIR"
    log "deleted $CLUSTER_DIR"
}

cmd_status() {
    local n pid state live="" up=0
    for n in "${NODES[@]}"; do
        if ! pid=$(vm_pid "$n"); then
            state=down
        elif rabbit "$n" 30 rabbitmq-diagnostics -n "$(node "$n")" -q check_running >/dev/null 2>&1; then
            state="running (pid $pid)"
            up=$((up + 1))
            [[ -n $live ]] || live=$n
        else
            state="Erlang VM up (pid $pid), RabbitMQ not running"
        fi
        printf '%s  amqp://guest:guest@127.0.0.1:%s/%%2f  %s\n' "$(node "$n")" "$(amqp_port "$n")" "$state"
    done
    if [[ -n $live ]]; then
        printf '\n'
        ctl "$live" 60 cluster_status || log "cluster_status failed on $(node "$live")"
    else
        log "no node of the cluster is running ($CLUSTER_DIR)"
    fi
    ((up == ${#NODES[@]}))
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

case ${1:-} in
start) cmd_start ;;
urls) urls ;;
status) cmd_status ;;
kill)
    node_arg "${2:-}" kill
    cmd_kill "$2"
    ;;
start-node)
    node_arg "${2:-}" start-node
    cmd_start_node "$2"
    ;;
stop)
    case ${2:-} in
    "") cmd_stop ;;
    --wipe) cmd_reset ;;
    *) die "usage: $0 stop [--wipe]" ;;
    esac
    ;;
reset) cmd_reset ;;
ctl)
    node_arg "${2:-}" ctl
    need_rabbit
    n=$2
    shift 2
    ctl "$n" 600 "$@"
    ;;
-h | --help | help) usage ;;
*)
    usage >&2
    exit 2
    ;;
esac
