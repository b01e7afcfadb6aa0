#!/usr/bin/env bash
# The README's HTTP walk-through, as a script that `make test` runs against a fresh server, so
# the commands in it cannot drift from what the server does. Read it as documentation: every
# step is one curl call and says what it shows.
#
#   B=http://127.0.0.1:8080 bash scripts/walkthrough.sh     (default B: $BASE_URL, then :8080)
#
# Needs curl and python3 (to read one field out of a JSON reply). Makes two users of its own
# (alice_<random>, bob_<random>), so it runs any number of times against one database.
set -euo pipefail

B=${B:-${BASE_URL:-http://127.0.0.1:8080}}
RUN=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
ALICE=alice_$RUN BOB=bob_$RUN
JSON='content-type: application/json'
step() { printf '\n== %s\n' "$*" >&2; }

# call METHOD PATH [TOKEN] [BODY]: prints the reply; fails (with the reply) on a status other
# than the one in $EXPECT (default 200).
call() {
    local method=$1 path=$2 token=${3:-} body=${4:-} args=() out status
    args=(-sS -X "$method" -o /tmp/walkthrough.$$ -w '%{http_code}' "$B$path")
    [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
    [[ -n $body ]] && args+=(-H "$JSON" -d "$body")
    status=$(curl "${args[@]}")
    out=$(cat /tmp/walkthrough.$$)
    rm -f /tmp/walkthrough.$$
    printf '%s %s -> %s %s\n' "$method" "$path" "$status" "${out:0:300}" >&2
    if [[ $status != "${EXPECT:-200}" ]]; then
        echo "walkthrough: expected ${EXPECT:-200}, got $status" >&2
        exit 1
    fi
    printf '%s' "$out"
}

# field JSON NAME: one top-level field of a JSON object (or of the first item of a list).
field() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]); v=v[0] if isinstance(v,list) else v; print(v[sys.argv[2]])' "$1" "$2"
}

step "sign up (201) and keep the tokens; bob too, so that alice can write to him"
SIGNUP=$(EXPECT=201 call POST /v1/auth/signup "" "{\"username\":\"$ALICE\",\"email\":\"$ALICE@example.com\",\"password\":\"correct horse\"}")
TOKEN=$(field "$SIGNUP" token)
REFRESH=$(field "$SIGNUP" refresh_token)
EXPECT=201 call POST /v1/auth/signup "" "{\"username\":\"$BOB\",\"email\":\"$BOB@example.com\",\"password\":\"battery staple\"}" >/dev/null

step "log in later, by username or email (200, the same shape as sign-up); who am I"
call POST /v1/auth/login "" "{\"username\":\"$ALICE\",\"password\":\"correct horse\"}" >/dev/null
call GET /v1/auth/me "$TOKEN" >/dev/null

step "rooms: create one (201), list them with unread counts"
ROOM=$(field "$(EXPECT=201 call POST /v1/chat/rooms "$TOKEN" "{\"name\":\"Traders $RUN\"}")" id)
call GET /v1/chat/rooms "$TOKEN" >/dev/null

step "post (201), retry the same client_id (200: the stored message, nothing new)"
FIRST=$(field "$(EXPECT=201 call POST "/v1/chat/rooms/$ROOM/messages" "$TOKEN" '{"chatmessage":"hello","client_id":"c-1"}')" id)
call POST "/v1/chat/rooms/$ROOM/messages" "$TOKEN" '{"chatmessage":"hello","client_id":"c-1"}' >/dev/null
EXPECT=201 call POST "/v1/chat/rooms/$ROOM/messages" "$TOKEN" '{"chatmessage":"and another"}' >/dev/null

step "history: the latest 50, oldest first; then the page before a message"
call GET "/v1/chat/rooms/$ROOM/messages" "$TOKEN" >/dev/null
LAST=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[-1]["id"])' "$(call GET "/v1/chat/rooms/$ROOM/messages" "$TOKEN")")
call GET "/v1/chat/rooms/$ROOM/messages?before=$LAST&limit=20" "$TOKEN" >/dev/null

step "mark the room read up to the first message (unread counts live on the server)"
call PUT "/v1/chat/rooms/$ROOM/read" "$TOKEN" "{\"last_read_id\":$FIRST}" >/dev/null

step "a quote: 202 accepted; the answer is stored in the room (by the bot, or by the server if none runs)"
EXPECT=202 call POST "/v1/chat/rooms/$ROOM/messages" "$TOKEN" '{"chatmessage":"/stock=aapl.us"}' >/dev/null

step "direct messages: find bob, write to him (201), the inbox"
call GET "/v1/users?prefix=bob_$RUN" "$TOKEN" >/dev/null
EXPECT=201 call POST "/v1/chat/threads/$BOB" "$TOKEN" '{"message":"hi bob"}' >/dev/null
call GET /v1/chat/inbox "$TOKEN" >/dev/null

step "refresh (the refresh token rotates), then log out (204)"
TOKEN=$(field "$(call POST /v1/auth/refresh "" "{\"refresh_token\":\"$REFRESH\"}")" token)
EXPECT=204 call DELETE /v1/auth/token "$TOKEN" >/dev/null

printf '\nwalkthrough: every step answered as documented\n' >&2
