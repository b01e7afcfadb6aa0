#!/usr/bin/env bash
# Run the Postman collection (postman/) against a live tickertalk server with newman.
#
#   scripts/newman.sh [extra newman args...]                         # the environment's address
#   BASE_URL=http://127.0.0.1:9000 scripts/newman.sh [extra newman args...]
#
# The server must run with QA_ROUTES=true (the expired-token case and the Clean-up folder use
# its test-only /v1/qa routes); `make newman` starts such a server on a throwaway database.
# How QA uses the collection, in the Postman app and here: docs/postman.md.
#
# Environment:
#   BASE_URL          server to test; overrides the environment file's scheme, host and port
#                     (default: what postman/local.postman_environment.json says)
#   NEWMAN_WAIT_SECS  how long to wait for GET $BASE_URL/healthz to answer first (default 30)
#   NEWMAN_REPORT_DIR optional: also write a JUnit report there (newman-junit.xml; with
#                     NEWMAN_REPORT_NAME=<name>, <name>.xml instead)
#
# newman is pinned in tests/newman/package.json + package-lock.json and installed there (npm ci)
# the first time. Exit status is non-zero when any request or assertion fails.
set -euo pipefail

LOG_PREFIX=newman.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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

# The server's address, and the environment variables that point the collection at it: with
# BASE_URL, scheme/host/port are set from it too (so everything built from them agrees);
# without, base_url as the environment file builds it from its own scheme, host and port.
env_args=()
if [ -n "${BASE_URL:-}" ]; then
  BASE_URL="${BASE_URL%/}"
  while IFS= read -r arg; do env_args+=(--env-var "$arg"); done < <(BASE_URL="$BASE_URL" node -e '
    const u = new URL(process.env.BASE_URL);
    const port = u.port || (u.protocol === "https:" ? "443" : "80");
    console.log(["scheme=" + u.protocol.replace(/:$/, ""), "host=" + u.hostname, "port=" + port,
                 "base_url=" + process.env.BASE_URL].join("\n"));
  ')
else
  BASE_URL="$(ENVIRONMENT="$ENVIRONMENT" node -e '
    const env = JSON.parse(require("fs").readFileSync(process.env.ENVIRONMENT, "utf8"));
    const vars = Object.fromEntries(env.values.filter((v) => v.enabled !== false).map((v) => [v.key, String(v.value)]));
    let url = "{{base_url}}";
    for (let i = 0; i < 10 && /\{\{\w+\}\}/.test(url); i++) url = url.replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? vars[k] : m));
    console.log(url.replace(/\/$/, ""));
  ')"
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

reporters=(--reporters cli)
if [ -n "${NEWMAN_REPORT_DIR:-}" ]; then
  mkdir -p "$NEWMAN_REPORT_DIR"
  reporters=(--reporters "cli,junit" --reporter-junit-export "$NEWMAN_REPORT_DIR/${NEWMAN_REPORT_NAME:-newman-junit}.xml")
fi

log "running the collection against $BASE_URL"
"$NEWMAN" run "$COLLECTION" \
  -e "$ENVIRONMENT" \
  "${env_args[@]}" \
  --timeout-request 15000 \
  --no-insecure-file-read \
  --color off \
  "${reporters[@]}" \
  "$@"
