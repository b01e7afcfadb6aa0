#!/usr/bin/env bash
# Fuzzes the server against docs/openapi.yaml with schemathesis: requests generated from the
# document (valid ones, and invalid ones where the document says what is invalid) are sent to a
# live server, and every answer is checked against the document. Any failure fails the run: a
# request the document allows that the server refuses (400/422), an answer or status the
# document does not describe, a 5xx, an invalid request the server accepts.
#
#   bash scripts/schemathesis.sh [extra `schemathesis run` args]     # `make schemathesis`
#   BASE_URL=http://127.0.0.1:9000 bash scripts/schemathesis.sh      # against a running server
#
# Without BASE_URL it starts its own server on a throwaway database (scripts/with-server.sh),
# with the per-user limits out of the way, since a fuzzer posts and fails logins by the
# thousand and a 429 would hide whether the request itself was acceptable:
# RATE_LIMIT_MESSAGES=1000000, LOGIN_FREE_FAILURES=0, SIGNUPS_PER_ADDRESS=0, ROOMS_PER_USER=0,
# and QA_ROUTES off. A server given with BASE_URL should run with the same settings.
#
# Set-up: signs up a fuzzing user (its access token authenticates the run), a peer for the
# direct-message routes and a user whose sessions the session-ending routes may end. The fuzzing
# user creates a room (so it may rename it, set its topic and delete in it) with two messages of
# its own and one of the peer's, and sends the peer two direct messages; the peer sends one back.
# The texts hold a word, a cashtag and a mention that searches can find. Before that, filler
# messages (in a room of the peer's, and between the peer and the sessions user) take the small
# ids, which generated `{mid}` values often are, so a generated DELETE rarely hits the fuzzing
# user's messages. Most valid path values are then the set-up's: `{id}` the room, `{username}`
# the peer, `{mid}` one of those messages (a DELETE gets messages of its own, so edits and
# reactions keep a live one), `{emoji}` a few real emoji; `reply_to` and `last_read_id` are
# mostly a live message of the room or conversation, and searches often look for the set-up's
# words in its room. The rest, and every invalid value, is generated (`[dictionaries]`,
# `[parameters]` and `[[operations]]` below).
#
# Not fuzzed, and why (the `[[operations]]` entries below):
#   * GET /v1/ws, GET /api/ws: WebSocket upgrades. After a 101 the connection speaks WebSocket
#     frames, which schemathesis's HTTP client cannot, and every open socket counts against
#     MAX_SOCKETS_PER_USER. Their refusals (400, 401, 403, 422, 429) and the 101 are sent by
#     scripts/openapi-statuses.sh and the Postman collection; tests/ws_realtime.rs drives frames.
#   * /v1/qa/*: test-only routes, off here (QA_ROUTES), so every method is a plain 404.
# The routes that end sessions (DELETE /v1/auth/token, DELETE /v1/auth/sessions, DELETE
# /api/auth_token) are fuzzed with a fresh login of their own user for every request, so they
# never end the fuzzing user's session.
#
# Failures dropped on purpose (the `filter_failure` hook below, each counted in the summary):
#   * POST /api/register answering 400 `User error` `taken`: that API says "taken" with 400 (the
#     original server's contract), and the examples reuse one username.
#   * POST /v1/auth/password answering 422 `current_password: does not match`: the fuzzer cannot
#     know the password.
#   * A 404 "message N is not in this room/conversation" right after the room was created
#     (ensure_resource_availability), from PUT .../read or a route with `{mid}`: the 404 is
#     about the message (in the body or the path), not the room.
#   * POST /v1/chat/rooms/{id}/messages answering 404 `reply_to: message N is not in this room`
#     for a generated `reply_to`: which ids name a live message of the room is not something a
#     schema can say (the set-up's message is sent most of the time).
#   * An email of at most 254 characters but more than 254 UTF-8 bytes refused: the limit is
#     RFC 5321's, in octets, which JSON Schema cannot state (the document says it in words).
#
# Environment:
#   BASE_URL                 a running server (default: start one, as above)
#   SCHEMATHESIS_SECONDS     time budget of the run (default 60)
#   SCHEMATHESIS_SEED        a seed, to repeat a run
#   SCHEMATHESIS_FILLERS     filler messages of each kind the set-up stores first (default 100)
#   SCHEMATHESIS_DIR         the venv, config, hooks and reports (default target/schemathesis)
#   TICKERTALK_BIN           server binary for the server it starts (default target/debug/tickertalk)
# Reports: $SCHEMATHESIS_DIR/report (JUnit). Exit status non-zero when any check failed.
set -euo pipefail

LOG_PREFIX=schemathesis
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [[ -z ${BASE_URL:-} ]]; then
    log "starting a throwaway server"
    export RATE_LIMIT_MESSAGES=1000000 LOGIN_FREE_FAILURES=0 SIGNUPS_PER_ADDRESS=0 ROOMS_PER_USER=0
    unset QA_ROUTES
    exec env WITH_SERVER_DB_PREFIX=tt_fuzz bash scripts/with-server.sh bash "${BASH_SOURCE[0]}" "$@"
fi
BASE_URL=${BASE_URL%/}

dir=${SCHEMATHESIS_DIR:-target/schemathesis}
mkdir -p "$dir/report"
dir=$(cd "$dir" && pwd)

# The pinned schemathesis (scripts/requirements-dev.txt) in a venv of its own, never the
# system's Python packages; reinstalled when the requirements change.
venv=$dir/venv
if ! cmp -s scripts/requirements-dev.txt "$venv/requirements.installed" 2>/dev/null; then
    log "installing scripts/requirements-dev.txt into $venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt_install python3-venv
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q -r scripts/requirements-dev.txt
    cp scripts/requirements-dev.txt "$venv/requirements.installed"
fi

# --- set-up: users, a room, a conversation ------------------------------------------------------

run=$(random_hex 4)
password="fuzz password $run"

# call METHOD PATH [JSON] [TOKEN]: the answer's body; dies unless it is a 2xx.
call() {
    local out status
    out=$(curl -sS -X "$1" "$BASE_URL$2" -H 'content-type: application/json' \
        ${4:+-H "authorization: Bearer $4"} ${3:+--data-binary "$3"} -w '\n%{http_code}')
    status=${out##*$'\n'}
    [[ $status == 2* ]] || die "set-up: $1 $2 answered $status: ${out%$'\n'*}"
    printf '%s\n' "${out%$'\n'*}"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
signup() {
    call POST /v1/auth/signup "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"$password\"}" | field token
}

fuzz_user=fz_$run peer=fp_$run sessions_user=fs_$run
token=$(signup "$fuzz_user")
peer_token=$(signup "$peer")
signup "$sessions_user" >/dev/null
# Fillers first: they take the small message ids (see the header).
filler_room=$(call POST /v1/chat/rooms "{\"name\":\"fuzz filler $run\"}" "$peer_token" | field id)
for i in $(seq 1 "${SCHEMATHESIS_FILLERS:-100}"); do
    call POST "/v1/chat/rooms/$filler_room/messages" "{\"chatmessage\":\"filler $i\"}" "$peer_token" >/dev/null
    call POST "/v1/chat/threads/$sessions_user" "{\"message\":\"filler $i\"}" "$peer_token" >/dev/null
done
# The words searches look for: a word, a cashtag and a mention.
cashtag=FZ$run
room_id=$(call POST /v1/chat/rooms "{\"name\":\"fuzz $run\"}" "$token" | field id)
msg_live=$(call POST "/v1/chat/rooms/$room_id/messages" \
    "{\"chatmessage\":\"first \$$cashtag for @$peer\"}" "$token" | field id)
msg_doomed=$(call POST "/v1/chat/rooms/$room_id/messages" '{"chatmessage":"to be deleted"}' "$token" | field id)
msg_peer=$(call POST "/v1/chat/rooms/$room_id/messages" \
    "{\"chatmessage\":\"the peer's, replying\",\"reply_to\":$msg_live}" "$peer_token" | field id)
dm_live=$(call POST "/v1/chat/threads/$peer" "{\"message\":\"hello \$$cashtag\"}" "$token" | field id)
dm_doomed=$(call POST "/v1/chat/threads/$peer" '{"message":"to be deleted"}' "$token" | field id)
dm_peer=$(call POST "/v1/chat/threads/$fuzz_user" '{"message":"hello"}' "$peer_token" | field id)
log "set-up: user $fuzz_user, room $room_id (messages $msg_live, $msg_doomed, $msg_peer), peer $peer" \
    "(direct messages $dm_live, $dm_doomed, $dm_peer); fuzzing $BASE_URL for ${SCHEMATHESIS_SECONDS:-60} s"

# --- configuration and hooks ----------------------------------------------------------------------

cat >"$dir/schemathesis.toml" <<EOF
workers = 1
color = false

[cache]
directory = "$dir/cache"

[generation]
database = "$dir/examples.db"

[reports]
directory = "$dir/report"

[reports.junit]
enabled = true

# Path parameters: most valid ones are the set-up's room, peer and messages, so requests get
# past the lookup; invalid ones (and the rest) are generated.
[dictionaries.room]
values = [$room_id]

[dictionaries.peer]
values = ["$peer"]

# Messages of the room: the fuzzing user's live one (edited, reacted to, replied to) and the
# peer's (editing it is 403); a DELETE gets its own (the fuzzing user created the room, so it
# may delete the peer's too).
[dictionaries.message]
values = [$msg_live, $msg_peer]

[dictionaries.doomed]
values = [$msg_doomed, $msg_peer]

[dictionaries.dm]
values = [$dm_live, $dm_peer]

[dictionaries.doomed_dm]
values = [$dm_doomed]

[dictionaries.emoji]
values = ["\U0001F44D", "\U0001F389", "\u2764\uFE0F", "\U0001F1FA\U0001F1F8", "1\uFE0F\u20E3", "\U0001F468\u200D\U0001F469\u200D\U0001F467"]

[dictionaries.terms]
values = ["first", "\$$cashtag", "$cashtag", "@$peer", "hello", "\"to be\" -deleted"]

[parameters]
"path.id" = { dictionary = "room", probability = 0.8 }
"path.username" = { dictionary = "peer", probability = 0.8 }
"path.emoji" = { dictionary = "emoji", probability = 0.5 }

[[operations]]
include-operation-id = ["editRoomMessage", "reactToRoomMessage", "unreactToRoomMessage"]
parameters = { "path.mid" = { dictionary = "message", probability = 0.8 } }

[[operations]]
include-operation-id = ["deleteRoomMessage"]
parameters = { "path.mid" = { dictionary = "doomed", probability = 0.8 } }

[[operations]]
include-operation-id = ["editDirectMessage", "reactToDirectMessage", "unreactToDirectMessage"]
parameters = { "path.mid" = { dictionary = "dm", probability = 0.8 } }

[[operations]]
include-operation-id = ["deleteDirectMessage"]
parameters = { "path.mid" = { dictionary = "doomed_dm", probability = 0.8 } }

[[operations]]
include-operation-id = ["postRoomMessage"]
parameters = { "body.reply_to" = { dictionary = "message", probability = 0.8 } }

[[operations]]
include-operation-id = ["markRoomRead"]
parameters = { "body.last_read_id" = { dictionary = "message", probability = 0.8 } }

[[operations]]
include-operation-id = ["markThreadRead"]
parameters = { "body.last_read_id" = { dictionary = "dm", probability = 0.8 } }

[[operations]]
include-operation-id = ["search"]
parameters = { "query.q" = { dictionary = "terms", probability = 0.5 }, "query.room_id" = { dictionary = "room", probability = 0.5 } }

# WebSocket upgrades: not HTTP after the 101 (see the script's header).
[[operations]]
include-operation-id = ["websocket", "apiWebsocket"]
enabled = false

# Test-only routes, off on this server.
[[operations]]
include-tag = "qa"
enabled = false
EOF

cat >"$dir/hooks.py" <<'EOF'
"""Authentication and the failures dropped on purpose (scripts/schemathesis.sh says why)."""

import json
import os

import requests
import schemathesis

BASE_URL = os.environ["BASE_URL"].rstrip("/")
SESSION_ENDING = ["logout", "logOutEverywhere", "apiDeleteAccessKey"]


@schemathesis.auth(refresh_interval=None).apply_to(operation_id=SESSION_ENDING)
class FreshSession:
    """A new session of the sessions user for every request that may end it."""

    def get(self, case, context):
        r = requests.post(
            f"{BASE_URL}/v1/auth/login",
            json={"username": os.environ["FUZZ_SESSIONS_USER"], "password": os.environ["FUZZ_PASSWORD"]},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["token"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.auth(refresh_interval=None).skip_for(operation_id=SESSION_ENDING)
class FuzzUser:
    """The fuzzing user's access token (from its sign-up) on every other request."""

    def get(self, case, context):
        return os.environ["FUZZ_TOKEN"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _answer(response):
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _field_errors(answer):
    # /v1 problem details carry `errors`; /api envelopes carry `error.errors`.
    answer = answer or {}
    return answer.get("errors") or (answer.get("error") or {}).get("errors") or {}


def _is_email_bytes_refusal(case, answer):
    # RFC 5321 counts octets; maxLength counts characters.
    body = case.body if isinstance(case.body, dict) else {}
    email = body.get("email")
    return (
        list(_field_errors(answer)) == ["email"]
        and isinstance(email, str)
        and len(email.strip()) <= 254 < len(email.strip().encode("utf-8"))
    )


def _drop(reason):
    with open(os.environ["FUZZ_DROPPED"], "a", encoding="utf-8") as f:
        f.write(reason + "\n")
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """False drops the failure (and counts why in FUZZ_DROPPED)."""
    label = case.operation.label
    answer = _answer(response)
    if failure.code == "ST202":  # a schema-valid request refused
        if label == "POST /api/register" and response.status_code == 400:
            error = (answer or {}).get("error") or {}
            if error.get("message") == "User error" and set((error.get("errors") or {}).values()) == {"taken"}:
                return _drop("/api/register: username or email taken (400 User error, by design)")
        if label == "POST /v1/auth/password" and (answer or {}).get("errors") == {"current_password": "does not match"}:
            return _drop("/v1/auth/password: current_password does not match (unknowable)")
        if response.status_code in (400, 422) and _is_email_bytes_refusal(case, answer):
            return _drop(f"{label}: email over 254 UTF-8 bytes refused (RFC 5321 octets)")
    detail = (answer or {}).get("detail") or ""
    if (
        label == "POST /v1/chat/rooms/{id}/messages"
        and response.status_code == 404
        and detail.startswith("reply_to: ")
    ):
        return _drop(f"{label}: reply_to names no live message of the room (unknowable)")
    if failure.code == "ST302" and response.status_code == 404:
        if detail.startswith("message ") and detail.endswith(("is not in this room", "is not in this conversation")):
            return _drop(f"{label}: 404 for a message not in the new room (not the room)")
    return True
EOF

# --- the run ------------------------------------------------------------------------------------

args=(--url "$BASE_URL" --max-time "${SCHEMATHESIS_SECONDS:-60}")
[[ -z ${SCHEMATHESIS_SEED:-} ]] || args+=(--seed "$SCHEMATHESIS_SEED")
rc=0
: >"$dir/dropped.txt"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$dir" FUZZ_TOKEN=$token FUZZ_PASSWORD=$password \
    FUZZ_SESSIONS_USER=$sessions_user FUZZ_DROPPED="$dir/dropped.txt" BASE_URL=$BASE_URL \
    "$venv/bin/schemathesis" --config-file "$dir/schemathesis.toml" run docs/openapi.yaml \
    "${args[@]}" "$@" || rc=$?
if [[ -s $dir/dropped.txt ]]; then
    log "failures dropped on purpose (see the header of scripts/schemathesis.sh), by reason:"
    sort "$dir/dropped.txt" | uniq -c | sort -rn | sed 's/^/    /' >&2
fi
if ((rc != 0)); then
    log "FAILED (exit $rc): each failure above has a curl line that repeats its request" \
        "(against a server of your own); SCHEMATHESIS_SEED=<the seed above> repeats the run"
    exit "$rc"
fi
log "no failures"
