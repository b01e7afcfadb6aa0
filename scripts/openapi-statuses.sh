#!/usr/bin/env bash
# Do the statuses docs/openapi.yaml documents match what the server answers? Runs real traffic
# against a live server, scrapes its request metrics, and compares (scripts/check_openapi.py
# --observed): a status the server answered that the document does not list for that operation
# fails, and so does a documented status the traffic never produced, unless
# docs/openapi-unobserved.txt says why it cannot be produced.
#
#   QA_ROUTES=true scripts/with-server.sh bash scripts/openapi-statuses.sh
#
# Needs BASE_URL (with-server.sh sets it) and a server with QA_ROUTES=true (the collection's
# test-only routes). The traffic, in this order:
#   1. the Postman collection (scripts/newman.sh);
#   2. the README walk-through (scripts/walkthrough.sh);
#   3. probes for what newman cannot send: WebSocket handshakes (101) and the per-user socket cap
#      (429) on /v1/ws and /api/ws, a chunked body over 64 KiB (413) on every /v1 route that
#      reads one, the per-user message budget (429) on every route that edits, deletes or
#      reacts, the search budget (429), the room list's paging errors (422, 404), the
#      rooms-per-user quota (429, also for renaming a room) and the sign-ups-per-address budget
#      (429), and, last because it blocks the client address, failed logins until the throttle
#      answers 429 (/v1/auth/login, then /api/auth_token; the tight budget is per account and
#      address, so this blocks one test account, 15 minutes).
# Then /metrics is scraped from METRICS_URL (the server's METRICS_ADDR listener, which the
# public API does not serve) and the check runs. Every step runs even when one before it failed; the exit status is
# non-zero if any failed.
#
# Environment:
#   BASE_URL                 the server (required)
#   OPENAPI_STATUSES_DIR     where the scrape, the routes and the logs go
#                            (default target/test-output/openapi-statuses)
#   OPENAPI_STATUSES_SKIP    space-separated steps to skip: newman, walkthrough, probes (the check
#                            will then report what they would have produced as never observed)
#   TICKERTALK_BIN           server binary, for `tickertalk routes` (default target/debug/tickertalk)
set -uo pipefail

LOG_PREFIX=openapi-statuses
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 2
[[ -n ${BASE_URL:-} ]] || die "BASE_URL is not set: run me inside scripts/with-server.sh"
BASE_URL=${BASE_URL%/}
out=${OPENAPI_STATUSES_DIR:-target/test-output/openapi-statuses}
mkdir -p "$out"
skip=" ${OPENAPI_STATUSES_SKIP:-} "
failed=()

step() {
    local name=$1
    shift
    if [[ $skip == *" $name "* ]]; then
        log "skipping $name (OPENAPI_STATUSES_SKIP)"
        return 0
    fi
    log "running $name (output: $out/$name.log)"
    if ! "$@" >"$out/$name.log" 2>&1; then
        log "$name FAILED; the last lines of $out/$name.log:"
        tail -n 25 "$out/$name.log" >&2
        failed+=("$name")
    fi
}

routes=$out/routes.txt
need_bins "$TICKERTALK_BIN"
"$TICKERTALK_BIN" routes >"$routes" || die "'$TICKERTALK_BIN routes' failed"

step newman bash scripts/newman.sh
step walkthrough env B="$BASE_URL" bash scripts/walkthrough.sh
step probes python3 - "$BASE_URL" "$routes" <<'PY'
"""Requests the Postman collection cannot send: newman has no WebSocket and always sends
Content-Length. The login throttle comes last: it blocks the client address."""
import base64
import http.client
import json
import secrets
import socket
import sys
from urllib.parse import quote, urlsplit

base, routes_file = sys.argv[1], sys.argv[2]
u = urlsplit(base)
host, port = u.hostname, u.port or 80
failures = []


def call(method, path, body=None, token=None, chunked=False):
    c = http.client.HTTPConnection(host, port, timeout=30)
    h = {"content-type": "application/json"}
    if token:
        h["authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    if chunked:
        # Head and body in one write: the server may answer 413 and close before reading it all.
        c.putrequest(method, path)
        for k, v in {**h, "transfer-encoding": "chunked"}.items():
            c.putheader(k, v)
        data = data or b"{}"
        c.endheaders(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    else:
        c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    print(f"{method} {path} -> {r.status} {text[:200]}")
    return r.status, (json.loads(text) if text.startswith(("{", "[")) else text)


def ws(path):
    """A WebSocket handshake: (status, the open socket after a 101, else None)."""
    s = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: Upgrade\r\n"
            f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    print(f"WS {path.split('?')[0]} -> {status}")
    if status == 101:
        return status, s
    s.close()
    return status, None


def expect(what, got, want):
    if got != want:
        failures.append(f"{what}: expected {want}, got {got}")


run = secrets.token_hex(4)
user, password = f"probe_{run}", f"probe password {run}"
status, session = call("POST", "/v1/auth/signup", {"username": user, "email": f"{user}@example.com", "password": password})
if status != 201:
    sys.exit(f"probes: cannot sign up the probe user ({status})")
token = session["token"]
peer = f"probe_peer_{run}"
status, _ = call("POST", "/v1/auth/signup", {"username": peer, "email": f"{peer}@example.com", "password": password})
if status != 201:
    sys.exit(f"probes: cannot sign up the probe peer ({status})")
# The probe user's room, with messages and direct messages of its own to edit, delete and react
# to (several: a change that gets through where a 429 was wanted is tried again on the next).
status, room = call("POST", "/v1/chat/rooms", {"name": f"probe {run} room"}, token=token)
if status != 201:
    sys.exit(f"probes: cannot create the probe room ({status})")
room_id = room["id"]
own_messages, own_dms = [], []
for i in range(4):
    status, m = call("POST", f"/v1/chat/rooms/{room_id}/messages", {"chatmessage": f"probe {i}"}, token=token)
    own_messages.append(m["id"] if status == 201 else 0)
    status, d = call("POST", f"/v1/chat/threads/{peer}", {"message": f"probe {i}"}, token=token)
    own_dms.append(d["id"] if status == 201 else 0)
THUMBS = quote("\U0001F44D")

# 1. WebSocket handshakes on both APIs (101), then the per-user cap (MAX_SOCKETS_PER_USER) on both.
held = []
for path in (f"/v1/ws?token={token}", f"/api/ws?access_token={token}"):
    status, s = ws(path)
    expect(f"GET {path.split('?')[0]} handshake", status, 101)
    held += [s] if s else []
for _ in range(1000):
    status, s = ws(f"/v1/ws?token={token}")
    if not s:
        break
    held.append(s)
expect(f"GET /v1/ws with {len(held)} sockets of one user open", status, 429)
status, _ = ws(f"/api/ws?access_token={token}")
expect(f"GET /api/ws with {len(held)} sockets of one user open", status, 429)
for s in held:
    s.close()

# 2. A chunked body (no Content-Length) over 64 KiB on every /v1 route that reads one (POST, PUT,
#    PATCH): read until it passes the limit, then 413 (newman only sends Content-Length).
with open(routes_file) as f:
    for line in f:
        parts = line.split("#", 1)[0].split()
        if len(parts) != 2 or parts[0] not in ("POST", "PUT", "PATCH") or not parts[1].startswith("/v1/"):
            continue
        method, pattern = parts
        path = (
            pattern.replace("{id}", "1")
            .replace("{username}", user)
            .replace("{mid}", "1")
            .replace("{emoji}", THUMBS)
        )
        status, _ = call(method, path, {"text": "x" * 70 * 1024}, token=token, chunked=True)
        expect(f"{method} {pattern} with a chunked body over 64 KiB", status, 413)

# 3. The per-user message budget (RATE_LIMIT_MESSAGES, 20 per 10 s here) on every route that
#    edits, deletes or reacts: posts until 429 spend it, then the change must be refused too. The
#    budget refills as time passes (2 a second), so a change that got through is tried again, on
#    the next message.
def spend_message_budget():
    for _ in range(100):
        status, _ = call("POST", f"/v1/chat/rooms/{room_id}/messages", {"chatmessage": "spend"}, token=token)
        if status == 429:
            return
    failures.append("posting never answered 429 (is RATE_LIMIT_MESSAGES set high?)")


def changes(i):
    """(method, path, body) of every change to the probe user's i-th message and direct message."""
    room_message = f"/v1/chat/rooms/{room_id}/messages/{own_messages[i]}"
    direct = f"/v1/chat/threads/{peer}/messages/{own_dms[i]}"
    return [
        ("PATCH", room_message, {"chatmessage": "edited"}),
        ("DELETE", room_message, None),
        ("PUT", f"{room_message}/reactions/{THUMBS}", None),
        ("DELETE", f"{room_message}/reactions/{THUMBS}", None),
        ("PATCH", direct, {"message": "edited"}),
        ("DELETE", direct, None),
        ("PUT", f"{direct}/reactions/{THUMBS}", None),
        ("DELETE", f"{direct}/reactions/{THUMBS}", None),
    ]


for k in range(len(changes(0))):
    for i in range(len(own_messages)):
        spend_message_budget()
        method, path, body = changes(i)[k]
        status, _ = call(method, path, body, token=token)
        if status == 429:
            break
    expect(f"{method} {path} with the message budget spent", status, 429)

# 4. The search budget (30 searches per 10 s on one instance).
for attempt in range(1, 101):
    status, _ = call("GET", f"/v1/search?q=probe&room_id={room_id}", token=token)
    if status != 200:
        break
expect(f"GET /v1/search after {attempt - 1} searches", status, 429)

# 5. The room list's paging errors, then room creations until the per-user quota answers 429
#    (the Makefile runs this server with ROOMS_PER_USER=20); renaming a room takes from the same
#    budget.
status, _ = call("GET", "/v1/chat/rooms?limit=0", token=token)
expect("GET /v1/chat/rooms?limit=0", status, 422)
status, _ = call("GET", "/v1/chat/rooms?after=999999999", token=token)
expect("GET /v1/chat/rooms after a room that does not exist", status, 404)
for attempt in range(1, 101):
    status, _ = call("POST", "/v1/chat/rooms", {"name": f"probe {run} {attempt}"}, token=token)
    if status != 201:
        break
expect(f"POST /v1/chat/rooms after {attempt - 1} rooms", status, 429)
status, _ = call("PATCH", f"/v1/chat/rooms/{room_id}", {"name": f"probe {run} renamed"}, token=token)
expect("PATCH /v1/chat/rooms/{id} (a rename) once the room budget is spent", status, 429)
# 6. Sign-ups until the address's budget answers 429 (SIGNUPS_PER_ADDRESS=100 here): taken
#    names, which cost no hashing, count like any other; /api/register shares the budget.
for attempt in range(1, 201):
    status, _ = call("POST", "/v1/auth/signup", {"username": user, "email": f"{user}@example.com", "password": password})
    if status != 409:
        break
expect(f"POST /v1/auth/signup after {attempt - 1} taken names", status, 429)
status, _ = call("POST", "/api/register", {"username": f"x{run}", "email": f"x{run}@example.com", "password": password,
                                             "first_name": "P", "last_name": "R", "phone": "1"})
expect("POST /api/register once the address's sign-ups are spent", status, 429)

# 7. Last: failed logins until the throttle answers 429. This delays the client address too, so
#    nothing may come after it but the metrics scrape. /api/auth_token shares the throttle.
for attempt in range(1, 41):
    status, _ = call("POST", "/v1/auth/login", {"username": user, "password": "wrong " + run})
    if status != 401:
        break
expect(f"POST /v1/auth/login after {attempt - 1} failed logins", status, 429)
status, _ = call("POST", "/api/auth_token", {"username": user, "password": password})
expect("POST /api/auth_token while logins are throttled", status, 429)
# A password change checks the current password against the same budgets as a login.
status, _ = call("POST", "/v1/auth/password", {"current_password": password, "new_password": "another " + password}, token=token)
expect("POST /v1/auth/password while logins are throttled", status, 429)

for f in failures:
    print(f"probe failed: {f}", file=sys.stderr)
sys.exit(1 if failures else 0)
PY

metrics=$out/metrics.txt
: "${METRICS_URL:?run me through scripts/with-server.sh (it gives METRICS_URL)}"
curl -fsS "$METRICS_URL/metrics" >"$metrics" || die "cannot scrape $METRICS_URL/metrics"
log "scraped $METRICS_URL/metrics into $metrics"

check_rc=0
python3 scripts/check_openapi.py "$routes" --exact --observed "$metrics" || check_rc=$?

if ((${#failed[@]})); then
    log "FAILED: ${failed[*]} (see $out/*.log); the check above saw only the traffic that ran"
    exit 1
fi
exit "$check_rc"
