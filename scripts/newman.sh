#!/usr/bin/env bash
# Run the Postman collection (postman/) against a live tickertalk server with newman.
#
#   BASE_URL=http://127.0.0.1:8080 scripts/newman.sh [extra newman args...]
#
# Environment:
#   BASE_URL          server to test (default http://127.0.0.1:8080)
#   JWT_SECRET        optional: when set, the "expired token" request is signed with the server's
#                     real key, so it tests expiry itself rather than a bad signature
#   NEWMAN_WAIT_SECS  how long to wait for GET $BASE_URL/healthz to answer first (default 30)
#   NEWMAN_REPORT_DIR optional: also write a JUnit report there (newman-junit.xml)
#
# newman is pinned in tests/newman/package.json + package-lock.json and installed there (npm ci)
# the first time. Exit status is non-zero when any request or assertion fails.
set -euo pipefail

LOG_PREFIX=newman.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE_URL="${BASE_URL:-http://127.0.0.1:8080}"
BASE_URL="${BASE_URL%/}"
NEWMAN_DIR="$ROOT/tests/newman"
NEWMAN="$NEWMAN_DIR/node_modules/.bin/newman"
COLLECTION="$ROOT/postman/tickertalk.postman_collection.json"
ENVIRONMENT="$ROOT/postman/local.postman_environment.json"

have node || die "node not found: install Node.js 16 or newer (e.g. apt-get install nodejs npm)"

if [ ! -x "$NEWMAN" ]; then
  have npm || die "npm not found: install it (e.g. apt-get install npm)"
  log "installing the pinned newman into tests/newman ..."
  if [ -f "$NEWMAN_DIR/package-lock.json" ]; then
    npm ci --prefix "$NEWMAN_DIR" --no-audit --no-fund --loglevel=error >&2
  else
    npm install --prefix "$NEWMAN_DIR" --no-audit --no-fund --loglevel=error >&2
  fi
  [ -x "$NEWMAN" ] || die "newman did not install into $NEWMAN_DIR"
fi

# Wait for the server (the Makefile may have just started it).
wait_secs="${NEWMAN_WAIT_SECS:-30}"
if ! BASE_URL="$BASE_URL" WAIT="$wait_secs" node -e '
  const url = process.env.BASE_URL + "/healthz";
  const lib = url.startsWith("https:") ? require("https") : require("http");
  const deadline = Date.now() + Number(process.env.WAIT) * 1000;
  (function attempt() {
    const req = lib.get(url, { timeout: 2000 }, (res) => { res.resume(); process.exit(res.statusCode === 200 ? 0 : retry()); });
    req.on("error", retry); req.on("timeout", () => req.destroy());
    function retry() { if (Date.now() > deadline) process.exit(1); setTimeout(attempt, 500); return 0; }
  })();
'; then
  die "no 200 from $BASE_URL/healthz within ${wait_secs}s: is the server running? (set BASE_URL)"
fi

# Extra variables go through a temporary environment file rather than the command line, so the
# JWT secret never shows in the process list.
tmp_env="$(mktemp "${TMPDIR:-/tmp}/tickertalk-newman-env.XXXXXX.json")"
trap 'rm -f "$tmp_env"' EXIT
ENV_IN="$ENVIRONMENT" ENV_OUT="$tmp_env" BASE_URL="$BASE_URL" node -e '
  const fs = require("fs");
  const env = JSON.parse(fs.readFileSync(process.env.ENV_IN, "utf8"));
  const set = (key, value) => {
    const v = env.values.find((x) => x.key === key);
    if (v) { v.value = value; v.enabled = true; } else env.values.push({ key, value, type: "secret", enabled: true });
  };
  set("base_url", process.env.BASE_URL);
  if (process.env.JWT_SECRET) set("jwt_secret", process.env.JWT_SECRET);
  fs.writeFileSync(process.env.ENV_OUT, JSON.stringify(env));
'

reporters=(--reporters cli)
if [ -n "${NEWMAN_REPORT_DIR:-}" ]; then
  mkdir -p "$NEWMAN_REPORT_DIR"
  reporters=(--reporters "cli,junit" --reporter-junit-export "$NEWMAN_REPORT_DIR/newman-junit.xml")
fi

log "running the collection against $BASE_URL"
"$NEWMAN" run "$COLLECTION" \
  -e "$tmp_env" \
  --env-var "base_url=$BASE_URL" \
  --timeout-request 15000 \
  --no-insecure-file-read \
  --color off \
  "${reporters[@]}" \
  "$@"
