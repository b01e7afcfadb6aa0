#!/usr/bin/env bash
# make bench: a release server on its own database, then the fan-out benchmark against it.
#   SOCKETS=2000 MESSAGES=200 RATE=50 bash bench/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --bin tickertalk --example fanout
ADMIN_URL="${TEST_DATABASE_URL:-postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk}"
db="tt_bench_$$"
url=$(sed -E "s#/[^/?]*(\?|$)#/$db\1#" <<<"$ADMIN_URL")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
bash scripts/db.sh create "$ADMIN_URL" "$db" >/dev/null
mkdir -p target/bench
LISTEN_ADDR="127.0.0.1:$port" DATABASE_URL="$url" AMQP_URL="${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" \
  JWT_SECRET="bench-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' ')" BROKER_PREFIX="$db" \
  RATE_LIMIT_MESSAGES=1000000 RUST_LOG=warn target/release/tickertalk >target/bench/server.log 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  bash scripts/db.sh drop "$ADMIN_URL" "$db" >/dev/null 2>&1 || true
  BROKER_PREFIX="$db" AMQP_URL="${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" \
    target/release/tickertalk broker-cleanup >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
echo "server RSS idle: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
SERVER_PID=$pid target/release/examples/fanout --base-url "http://127.0.0.1:$port" \
  --sockets "${SOCKETS:-2000}" --messages "${MESSAGES:-200}" --rate "${RATE:-50}" --users "${USERS:-20}"
