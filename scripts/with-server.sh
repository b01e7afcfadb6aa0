#!/usr/bin/env bash
# Runs a command against a live tickertalk server started just for it, on a fresh database and a
# private broker prefix, then stops the server and drops the database.
#
#   scripts/with-server.sh COMMAND [ARGS...]
#
# The command sees BASE_URL and JWT_SECRET. Needs PostgreSQL and RabbitMQ (scripts/deps.sh) and a
# built target/debug/tickertalk. TEST_DATABASE_URL (admin-capable, CREATEDB) and TEST_AMQP_URL
# override the local defaults.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

ADMIN_URL="${TEST_DATABASE_URL:-postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk}"
AMQP="${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
SERVER_BIN="${SERVER_BIN:-target/debug/tickertalk}"
[ -x "$SERVER_BIN" ] || { echo "with-server: $SERVER_BIN missing: run cargo build first" >&2; exit 1; }

db="tt_live_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
secret="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
url=$(sed -E "s#/[^/?]*(\?|$)#/$db\1#" <<<"$ADMIN_URL")
mkdir -p target/test-output
log="target/test-output/with-server-$db.log"

bash scripts/db.sh create "$ADMIN_URL" "$db" >/dev/null
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  bash scripts/db.sh drop "$ADMIN_URL" "$db" >/dev/null 2>&1 || true
  # Durable quorum queues left behind pile up on the broker and slow every restart of it.
  BROKER_PREFIX="$db" AMQP_URL="$AMQP" "$SERVER_BIN" broker-cleanup >/dev/null 2>&1 || true
}
trap cleanup EXIT

LISTEN_ADDR="127.0.0.1:$port" DATABASE_URL="$url" AMQP_URL="$AMQP" JWT_SECRET="$secret" \
  BROKER_PREFIX="$db" RUST_LOG="${RUST_LOG:-info}" "$SERVER_BIN" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "with-server: server exited; log:" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "with-server: server not ready; log:" >&2; tail -20 "$log" >&2; exit 1; }

BASE_URL="http://127.0.0.1:$port" JWT_SECRET="$secret" "$@"
