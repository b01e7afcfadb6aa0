#!/usr/bin/env bash
# The login-memory scenario of bench/run.sh, run inside scripts/with-server.sh (which gives
# BASE_URL and SERVER_PID): the server's RSS before any password was hashed, after one sign-up
# and LOGINS logins made CONCURRENCY at a time, and peak and after of WRONG concurrent wrong
# logins. Prints a readable table and one JSON line.
#   LOGINS=100 CONCURRENCY=2 WRONG=100 (defaults)
set -euo pipefail
: "${BASE_URL:?run me through scripts/with-server.sh}" "${SERVER_PID:?}"
LOGINS=${LOGINS:-100}
CONCURRENCY=${CONCURRENCY:-$(nproc)}
WRONG=${WRONG:-100}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

# Samples the RSS every 50 ms into $1 until killed.
sample() { while true; do rss_kb >>"$1"; sleep 0.05; done; }

login() {
    curl -sS -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
        -d "{\"username\":\"bench_user\",\"password\":\"$1\"}" "$BASE_URL/v1/auth/login" || true
}
export -f login
export BASE_URL

start=$(rss_kb)
curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d '{"username":"bench_user","email":"bench_user@example.com","password":"bench password 1"}' \
    "$BASE_URL/v1/auth/signup"
ok=$(seq "$LOGINS" | xargs -P "$CONCURRENCY" -I{} bash -c 'login "bench password 1"' | grep -c '^200$' || true)
sleep 1
after_logins=$(rss_kb)

samples=$(mktemp)
sample "$samples" &
sampler=$!
refused=$(seq "$WRONG" | xargs -P "$WRONG" -I{} bash -c 'login "wrong password"' | grep -c '^401$' || true)
sleep 1
kill "$sampler"
peak=$(sort -n "$samples" | tail -n 1)
rm -f "$samples"
after_wrong=$(rss_kb)

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
printf '%-44s %10s\n' "server RSS" "MB"
printf '%-44s %10s\n' "at start (no password hashed yet)" "$(mb "$start")"
printf '%-44s %10s\n' "after 1 sign-up + $LOGINS logins ($CONCURRENCY at a time, $ok ok)" "$(mb "$after_logins")"
printf '%-44s %10s\n' "peak during $WRONG concurrent wrong logins" "$(mb "$peak")"
printf '%-44s %10s\n' "after them ($refused refused)" "$(mb "$after_wrong")"
printf '{"scenario":"logins","logins":%d,"concurrency":%d,"ok":%d,"rss_start_kb":%d,"rss_after_logins_kb":%d,"wrong":%d,"refused":%d,"rss_peak_wrong_kb":%d,"rss_after_wrong_kb":%d}\n' \
    "$LOGINS" "$CONCURRENCY" "$ok" "$start" "$after_logins" "$WRONG" "$refused" "$peak" "$after_wrong"
