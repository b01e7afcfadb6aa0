#!/usr/bin/env bash
# Real-browser end-to-end tests for the web client (tests/e2e).
#
# Assumes PostgreSQL and RabbitMQ are running and that target/debug/tickertalk and
# target/debug/tickertalk-bot are built (the Makefile does both before calling this).
#
# Environment:
#   DATABASE_URL  admin-capable PostgreSQL URL (the role needs CREATEDB); each run creates and
#                 drops its own database tickertalk_e2e_<random>.
#   AMQP_URL      RabbitMQ URL; each run uses its own BROKER_PREFIX.
#   CHROMIUM_PATH browser binary (default /usr/bin/chromium; installed with apt when missing).
#   TICKERTALK_BIN, TICKERTALK_BOT_BIN  override the binaries.
# Missing tools (chromium, psql, node/npm) are installed with apt-get; sudo may ask for a password
# when run from a terminal.
# Output (process logs, screenshots): target/test-output/e2e/.
set -euo pipefail

LOG_PREFIX=e2e
SUDO_MAY_PROMPT=1
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

: "${DATABASE_URL:?DATABASE_URL must be set (admin-capable PostgreSQL URL, role with CREATEDB)}"
: "${AMQP_URL:?AMQP_URL must be set}"
export DATABASE_URL AMQP_URL

need_bins "$TICKERTALK_BIN" "$TICKERTALK_BOT_BIN"
# The harness (tests/e2e/harness.js) runs these; absolute paths, since it runs in tests/e2e.
export TICKERTALK_BIN TICKERTALK_BOT_BIN

CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM_PATH ]]; then
    apt_install chromium fonts-liberation
    [[ -x $CHROMIUM_PATH ]] || die "chromium is still missing at $CHROMIUM_PATH"
fi
export CHROMIUM_PATH

have psql || apt_install postgresql-client
need_node 20

mkdir -p target/test-output/e2e
rm -f target/test-output/e2e/*.png target/test-output/e2e/*.log

cd tests/e2e
# Never download Playwright's own browsers: Debian's chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi

log "running the browser tests (logs and screenshots in target/test-output/e2e/)"
status=0
node --test --test-concurrency=1 --test-reporter=spec ./*.test.js || status=$?
if (( status != 0 )); then
    log "FAILED (exit $status); see target/test-output/e2e/ (server.log, bot.log, harness.log, FAILED-*.png)"
fi
exit "$status"
