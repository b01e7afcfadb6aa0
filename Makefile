# tickertalk: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO ?= cargo
# The binaries `build` makes; the scripts read the same variables (scripts/lib.sh).
TICKERTALK_BIN ?= target/debug/tickertalk
TICKERTALK_BOT_BIN ?= target/debug/tickertalk-bot
export TICKERTALK_BIN TICKERTALK_BOT_BIN
# The database and broker the tests use (the role may create databases: each test makes its own).
TEST_DATABASE_URL ?= postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk
TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/%2f

.PHONY: run test deps build unit-test web-test check-schema check-openapi check-openapi-statuses check-monitoring check-compose stop-test metrics newman walkthrough e2e lint fmt db-migrate db-reset bench soak stress stop-deps

## make run: start PostgreSQL and RabbitMQ (installing them if needed), migrate, start server + bot.
run: deps build
	bash scripts/run.sh

## make test: everything: unit + integration tests, web client unit tests, schema and OpenAPI
## checks (the fuzzing included), Postman, browser.
test: deps build check-monitoring unit-test web-test check-schema check-openapi check-openapi-statuses check-fuzz check-compose newman walkthrough stop-test e2e
	@echo "make test: all suites passed"

deps:
	bash scripts/deps.sh

stop-deps:
	bash scripts/stop-deps.sh

build:
	$(CARGO) build --workspace --bins

unit-test:
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_AMQP_URL='$(TEST_AMQP_URL)' \
		$(CARGO) test --workspace -- --test-threads=4

## The web client's modules (web/*.js) under node's test runner. The files are named rather than
## the directory: node 21+ no longer searches a directory given on the command line.
web-test:
	LOG_PREFIX=web-test; source scripts/lib.sh; need_node 20
	node --test tests/web/*.test.mjs

## schema.sql must be exactly what the migrations produce: migrate a throwaway database, dump it.
check-schema: build
	export DATABASE_URL='$(TEST_DATABASE_URL)'; db=tickertalk_schema_$$$$; \
	url=$$($(TICKERTALK_BIN) db url $$db); \
	$(TICKERTALK_BIN) db create $$db; \
	trap "$(TICKERTALK_BIN) db drop $$db >/dev/null" EXIT; \
	DATABASE_URL=$$url $(TICKERTALK_BIN) migrate; \
	bash scripts/db.sh dump-schema "$$url" target/schema.check.sql; \
	trap - EXIT; $(TICKERTALK_BIN) db drop $$db; \
	if ! diff -u schema.sql target/schema.check.sql; then \
		echo "schema.sql is stale: run 'make db-migrate' and commit it"; exit 1; fi; \
	echo "schema.sql matches the migrations"

## Every route the server answers is in docs/openapi.yaml, and the document is valid.
check-openapi: build
	$(TICKERTALK_BIN) routes > target/routes.txt
	python3 -m pip install -q -r scripts/requirements-dev.txt
	python3 scripts/check_openapi.py --exact target/routes.txt

## Prometheus's configurations and rules, checked by promtool, and the rules' unit tests
## (monitoring/rules.test.yml). Installs the Debian prometheus package (with promtool) when missing;
## tests/metrics.rs then lints a real scrape with `promtool check metrics` too.
check-monitoring:
	bash scripts/metrics.sh check

## Prometheus (Debian package) against a running `make run`: http://127.0.0.1:9090/
metrics:
	bash scripts/metrics.sh

## docker-compose.yml against the Compose Specification's JSON schema (vendored; no Docker needed).
check-compose:
	python3 -m pip install -q -r scripts/requirements-dev.txt
	python3 scripts/check_compose.py

## `make run` stopped by SIGINT/SIGTERM to its process group (Ctrl-C, an IDE's stop button).
stop-test: build
	bash scripts/stop-test.sh

## The statuses docs/openapi.yaml documents against what the server answers to real traffic
## (the Postman collection, the walk-through, probes), on its own throwaway server.
check-openapi-statuses: build
	python3 -m pip install -q -r scripts/requirements-dev.txt
	QA_ROUTES=true ROOMS_PER_USER=20 SIGNUPS_PER_ADDRESS=100 bash scripts/with-server.sh bash scripts/openapi-statuses.sh

## Fuzzes the server against docs/openapi.yaml with schemathesis for 60 s on its own throwaway
## server (scripts/schemathesis.sh; SCHEMATHESIS_SECONDS for another budget); any failure fails.
.PHONY: schemathesis check-fuzz
schemathesis: build
	bash scripts/schemathesis.sh

## The same 60 s fuzzing inside `make test`, from a fixed seed so that a failure in CI can be
## repeated (SCHEMATHESIS_SEED overrides it; `make schemathesis` draws a new one each time).
check-fuzz: build
	SCHEMATHESIS_SEED=$${SCHEMATHESIS_SEED:-245938514520263038183930006085875531236} bash scripts/schemathesis.sh

## The Postman collection, run twice by newman against a live server on its own database, then a
## check that the runs left nothing behind.
newman: build
	QA_ROUTES=true bash scripts/with-server.sh bash scripts/newman-twice.sh

## The README's HTTP walk-through (scripts/walkthrough.sh) against a live server on its own database.
walkthrough: build
	bash scripts/with-server.sh bash scripts/walkthrough.sh

## Browser end-to-end tests in headless Chromium.
e2e: build
	DATABASE_URL='$(TEST_DATABASE_URL)' AMQP_URL='$(TEST_AMQP_URL)' bash scripts/e2e.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Apply migrations to DATABASE_URL and regenerate schema.sql from it.
db-migrate: deps build
	$(TICKERTALK_BIN) migrate
	bash scripts/db.sh dump-schema schema.sql
	@echo "schema.sql regenerated"

## Drop and recreate DATABASE_URL's database, migrate, and seed the rooms General and Random.
db-reset: deps build
	$(TICKERTALK_BIN) db reset
	$(TICKERTALK_BIN) seed

## Benchmarks; results go to BENCHMARKS.md by hand with the command that produced them.
bench: deps
	bash bench/run.sh

## make stress: the message-path fault tests 50 times in a row (STRESS_RUNS=n for another count).
stress: deps
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_AMQP_URL='$(TEST_AMQP_URL)' bash scripts/stress.sh

## make soak: 30 minutes of steady load on two instances (bench/soak.sh): nothing lost, RSS flat.
soak: deps
	bash bench/soak.sh

## make cluster: three clustered RabbitMQ nodes on 127.0.0.1:5681-5683 (issue #28); prints AMQP_URL.
.PHONY: cluster cluster-stop
cluster:
	bash scripts/cluster.sh start

## make cluster-stop: stops that cluster, keeping its data (scripts/cluster.sh reset deletes it).
cluster-stop:
	bash scripts/cluster.sh stop
