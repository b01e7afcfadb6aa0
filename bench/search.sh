#!/usr/bin/env bash
# The search scenario of bench/run.sh, run inside scripts/with-server.sh (BASE_URL,
# SERVER_DATABASE_URL): stores MESSAGES (default 1,000,000) room messages over 20 rooms whose
# members are USERS (default 40) accounts, then times GET /v1/search from one client, query
# after query (QUERIES, default 400), across the kinds of query people type: a common word, a
# rare one, a cashtag, a mention, two words, a word nobody wrote, and a common word in one
# room. Prints a table per kind and one JSON line.
set -euo pipefail
: "${BASE_URL:?run me through scripts/with-server.sh}"
: "${SERVER_DATABASE_URL:?run me through scripts/with-server.sh}"
LOG_PREFIX=search
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
MESSAGES=${MESSAGES:-1000000}
USERS=${USERS:-40}
QUERIES=${QUERIES:-400}
have psql || apt_install postgresql-client

post() { curl -fsS -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$3" "$BASE_URL$1"; }
tokens=()
for i in $(seq "$USERS"); do
    tokens+=("$(post /v1/auth/signup "" "{\"username\":\"bench_u$i\",\"email\":\"bench_u$i@example.com\",\"password\":\"bench password 1\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')")
done
for i in $(seq 20); do post /v1/chat/rooms "${tokens[0]}" "{\"name\":\"bench search $i\"}" >/dev/null; done

log "storing $MESSAGES messages"
start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$SERVER_DATABASE_URL" <<SQL
INSERT INTO room_members (room_id, user_id) SELECT r.id, u.id FROM rooms r, users u
    WHERE r.name LIKE 'bench search %' AND u.username LIKE 'bench_u%' ON CONFLICT DO NOTHING;
CREATE TEMP TABLE words AS SELECT unnest(string_to_array(
    'market price stock buy sell hold earnings report today tomorrow week quarter growth revenue '
    'profit loss dividend split rally crash bull bear chart trend volume short long call put option '
    'fund index bond yield rate inflation fed guidance analyst upgrade downgrade target beat miss '
    'think looks going up down big small great bad nice lol wow really maybe sure', ' ')) AS w;
CREATE TEMP TABLE w AS SELECT array_agg(w) AS a, count(*)::int AS n FROM words;
CREATE TEMP TABLE tick AS SELECT array['AAPL','TSLA','MSFT','NVDA','AMZN','GOOG','META','AMD','INTC','NFLX',
    'DIS','BA','JPM','XOM','KO','PEP','WMT','COST','ORCL','IBM'] AS t;
WITH r AS (SELECT array_agg(id ORDER BY id) AS ids FROM rooms WHERE name LIKE 'bench search %'),
     u AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE username LIKE 'bench_u%'),
     g AS (SELECT g, r.ids[1 + g % 20] AS room_id, u.ids[1 + (g * 7) % $USERS] AS user_id
           FROM generate_series(1, $MESSAGES) g, r, u)
INSERT INTO room_messages (room_id, seq, rev, user_id, body, created_at)
SELECT room_id, 1000 + g / 20, 1000 + g / 20, user_id,
       w.a[1 + floor(random() * w.n)::int] || ' ' || w.a[1 + floor(random() * w.n)::int] || ' '
       || CASE WHEN g % 7 = 0 THEN '\$' || tick.t[1 + g % 20] || ' ' ELSE '' END
       || w.a[1 + floor(random() * w.n)::int] || ' ' || w.a[1 + floor(random() * w.n)::int] || ' '
       || CASE WHEN g % 11 = 0 THEN '@bench_u' || (1 + g % $USERS) || ' ' ELSE '' END
       || CASE WHEN g % 5000 = 0 THEN 'zeppelin ' ELSE '' END
       || w.a[1 + floor(random() * w.n)::int] || ' ' || w.a[1 + floor(random() * w.n)::int],
       now() - make_interval(secs => ($MESSAGES - g) / 10.0)
FROM g, w, tick;
UPDATE rooms r SET last_seq = s.m, last_rev = s.m
    FROM (SELECT room_id, max(seq) AS m FROM room_messages GROUP BY room_id) s WHERE s.room_id = r.id;
VACUUM ANALYZE room_messages;
SQL
log "stored in $(($(date +%s) - start)) s"
room=$(psql -tA "$SERVER_DATABASE_URL" -c "SELECT min(id) FROM rooms WHERE name LIKE 'bench search %'")

python3 - "$BASE_URL" "$QUERIES" "$room" "$MESSAGES" "${tokens[@]}" <<'PY'
import http.client, json, sys, time, urllib.parse
base, queries, room, messages, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
kinds = [
    ("common word", "q=market"),
    ("rare word", "q=zeppelin"),
    ("cashtag", "q=" + urllib.parse.quote("$TSLA")),
    ("mention", "q=" + urllib.parse.quote("@bench_u7")),
    ("two words", "q=" + urllib.parse.quote("earnings growth")),
    ("no match", "q=xylophone"),
    ("one room", "q=price&room_id=" + room),
]
times = {k: [] for k, _ in kinds}
errors = 0
for i in range(queries):
    kind, q = kinds[i % len(kinds)]
    token = tokens[i % len(tokens)]
    t = time.perf_counter()
    conn.request("GET", "/v1/search?" + q + "&limit=20", headers={"authorization": "Bearer " + token})
    resp = conn.getresponse()
    body = resp.read()
    times[kind].append((time.perf_counter() - t) * 1000)
    if resp.status != 200:
        errors += 1
        print(kind, resp.status, body[:200], file=sys.stderr)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
print(f"{'query':<12} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
for kind, xs in times.items():
    print(f"{kind:<12} {len(xs):>4} {pct(xs, 50):>8.1f} {pct(xs, 99):>8.1f} {max(xs):>8.1f}")
every = [x for xs in times.values() for x in xs]
print(json.dumps({"scenario": "search", "messages": messages, "queries": len(every), "errors": errors,
                  "p50_ms": round(pct(every, 50), 1), "p99_ms": round(pct(every, 99), 1),
                  "max_ms": round(max(every), 1)}))
PY
