#!/usr/bin/env bash
# make metrics: Prometheus (the Debian package, installed when missing) against a running
# `make run`, with monitoring/rules.yml, on http://127.0.0.1:9090 (PROM_ADDR). Runs in the
# foreground; Ctrl-C stops it. Its data is kept in target/prometheus.
#   bash scripts/metrics.sh          start Prometheus (targets: the server's METRICS_ADDR from
#                                    .env, default 127.0.0.1:9101; the bot's BOT_METRICS_ADDR,
#                                    default 127.0.0.1:9102)
#   bash scripts/metrics.sh check    promtool: check the configurations and rules, and run the
#                                    rules' unit tests (monitoring/rules.test.yml): make check-monitoring
set -euo pipefail
LOG_PREFIX=metrics
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

need_prometheus() {
    if ! have prometheus || ! have promtool; then
        NEED_ROOT_HINT="or install Prometheus and promtool yourself" apt_install prometheus
    fi
}

if [[ ${1:-} == check ]]; then
    need_prometheus
    promtool check config monitoring/prometheus.yml
    promtool check config monitoring/prometheus-compose.yml
    promtool check rules monitoring/rules.yml
    promtool test rules monitoring/rules.test.yml
    exit 0
fi

need_prometheus
[[ -f .env ]] && load_env_file .env
server=${METRICS_ADDR:-127.0.0.1:9101}
server=${server/0.0.0.0/127.0.0.1}
bot=${BOT_METRICS_ADDR:-127.0.0.1:9102}
bot=${bot/0.0.0.0/127.0.0.1}
addr=${PROM_ADDR:-127.0.0.1:9090}
dir=target/prometheus
mkdir -p "$dir/data"
cp monitoring/rules.yml "$dir/rules.yml"
sed -e "s/127.0.0.1:9101/$server/" -e "s/127.0.0.1:9102/$bot/" monitoring/prometheus.yml >"$dir/prometheus.yml"
promtool check config "$dir/prometheus.yml" >/dev/null
curl -fsS -o /dev/null "http://$server/metrics" 2>/dev/null ||
    log "nothing answers http://$server/metrics yet: start the server (make run); Prometheus keeps trying"
log "Prometheus: http://$addr/ (server $server, bot $bot; alerts: http://$addr/alerts)"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="$addr" --log.level=warn
