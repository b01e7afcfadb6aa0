#!/usr/bin/env bash
# A fan-out benchmark with Prometheus watching the server (for the README's screenshot): starts
# Prometheus (Debian package) scraping the benchmark's server every 2 s with monitoring/rules.yml,
# runs `bench/run.sh fanout` on a fixed port, and near the end of its last step saves a screenshot
# of Prometheus's graphs of deliveries per second and delivery latency (p50, p99).
#   bash bench/watch.sh [FILE]     (default docs/screenshots/prometheus-fanout.png)
#   RATES=50,100,200,300 STEP_SECS=20 as for bench/run.sh.
set -euo pipefail
LOG_PREFIX=watch
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
file=${1:-docs/screenshots/prometheus-fanout.png}
have prometheus || apt_install prometheus
# Built first, so the screenshot's timing below counts from the benchmark's start.
cargo build --release --bin tickertalk --example fanout
cargo build --release -p tickertalk-bot
export RATES=${RATES:-50,100,200,300} STEP_SECS=${STEP_SECS:-20}
port=18080 metrics_port=19101 prom=127.0.0.1:19090 dir=target/bench/prometheus
rm -rf "$dir" && mkdir -p "$dir"
cp monitoring/rules.yml "$dir/"
sed -e "s/127.0.0.1:9101/127.0.0.1:$metrics_port/" -e 's/scrape_interval: 5s/scrape_interval: 2s/' \
    monitoring/prometheus.yml >"$dir/prometheus.yml"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="$prom" --log.level=warn >"$dir/prometheus.log" 2>&1 &
prom_pid=$!
trap 'kill $prom_pid 2>/dev/null || true' EXIT
steps=$(tr ',' '\n' <<<"$RATES" | wc -l)
# Set-up (sign-ups, 1,000 sockets) takes about 20 s; shoot 5 s before the last step ends.
shot_at=$((20 + steps * STEP_SECS - 5))
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
graph="http://$prom/graph?g0.expr=$(q 'sum(rate(tickertalk_deliveries_total[10s]))')&g0.tab=0&g0.range_input=$((steps * STEP_SECS + 30))s"
graph+="&g1.expr=$(q 'histogram_quantile(0.99, sum by (le) (rate(tickertalk_delivery_latency_seconds_bucket[10s])))')&g1.tab=0&g1.range_input=$((steps * STEP_SECS + 30))s"
graph+="&g2.expr=$(q 'histogram_quantile(0.5, sum by (le) (rate(tickertalk_delivery_latency_seconds_bucket[10s])))')&g2.tab=0&g2.range_input=$((steps * STEP_SECS + 30))s"
(
    sleep "$shot_at"
    mkdir -p "$(dirname "$file")"
    node bench/screenshot.mjs "$graph" "$file" && log "saved $file"
) &
shot=$!
WITH_SERVER_PORT=$port WITH_SERVER_METRICS_PORT=$metrics_port bash bench/run.sh fanout
wait "$shot"
log "graph: $graph"
