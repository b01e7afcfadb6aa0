#!/usr/bin/env bash
# The history scenario of bench/run.sh, run inside scripts/with-server.sh (which gives BASE_URL):
# GET /v1/chat/rooms/{id}/messages (the latest 50 of a 60-message room) from CLIENTS keep-alive
# connections for DURATION seconds, with wrk on the same machine. Prints wrk's summary and one JSON line.
#   CLIENTS=64 DURATION=10 (seconds; defaults); the server needs RATE_LIMIT_MESSAGES >= 60 to seed.
set -euo pipefail
: "${BASE_URL:?run me through scripts/with-server.sh}"
LOG_PREFIX=history
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
have wrk || apt_install wrk
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-10}

post() { curl -fsS -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$3" "$BASE_URL$1"; }
token=$(post /v1/auth/signup "" '{"username":"bench_reader","email":"bench_reader@example.com","password":"bench password 1"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
room=$(post /v1/chat/rooms "$token" '{"name":"bench history"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for i in $(seq 60); do post "/v1/chat/rooms/$room/messages" "$token" "{\"chatmessage\":\"message $i\"}" >/dev/null; done

out=$(wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "$BASE_URL/v1/chat/rooms/$room/messages")
echo "$out"
rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
errors=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
printf '{"scenario":"history","clients":%d,"duration_s":%d,"requests_per_sec":%s,"p99":"%s","non_2xx":%d}\n' \
    "$CLIENTS" "$DURATION" "$rps" "$p99" "${errors:-0}"
