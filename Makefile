# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

SCALED_DIR ?= data/scaled

.PHONY: run run-scaled server-deps test test-e2e test-postgres test-container soak bench eval install install-server install-test lock browser-deps screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

## The lock (requirements/, CONTRIBUTING.md): every package pinned with its hashes, pip
## checking each download against them. run.txt is what running on SQLite needs (make run),
## server.txt adds the PostgreSQL and Redis drivers (make run-scaled, the image), test.txt
## adds the test tools (make test). The app itself is installed in place, without its
## dependencies: the lock has them all.
$(VENV)/.installed-%: requirements/%.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/$*.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed-run
install-server: $(VENV)/.installed-server
install-test: $(VENV)/.installed-test

## Compile the lock from pyproject.toml after adding or changing a dependency there: what is
## locked stays where it still fits; `make lock UPGRADE=1` takes the newest that fits. uv
## compiles it for Python 3.11 and up on any platform (markers say where a package applies);
## the test set first, then the others within it, so all three agree on every version.
UV_VERSION = 0.13.9
LOCK = $(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' | \
	$(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" pyproject.toml -
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(LOCK) $(if $(UPGRADE),--upgrade) --extra postgresql --extra redis --extra test -o requirements/test.txt
	$(LOCK) -c requirements/test.txt --extra postgresql --extra redis -o requirements/server.txt
	$(LOCK) -c requirements/test.txt -o requirements/run.txt

## Start web + worker on http://localhost:$(PORT) (this machine only), data under ./data.
## The masking key is generated into the data folder on first start (data/secret-key).
run: install
	$(BIN)/chattrain db upgrade
	PORT=$(PORT) $(BIN)/chattrain users ensure-demo
	key_file="$$($(BIN)/chattrain secret-key ensure)" && \
	CHATTRAIN_SECRET_KEY_FILE="$$key_file" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

## A scaled layout on this machine against given servers: web on PORT and PORT+1, two
## workers, each process with its own folder under SCALED_DIR; nothing shared but the servers.
##   make run-scaled DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB QUEUE_URL=redis://HOST:6379/0
## (README.md, Operations: the same layout across two hosts.) The URLs are not echoed.
run-scaled: install-server
	@[ -n "$(DATABASE_URL)" ] && [ -n "$(QUEUE_URL)" ] || \
		{ echo "usage: make run-scaled DATABASE_URL=postgresql+psycopg://... QUEUE_URL=redis://... [PORT=8000]"; exit 2; }
	@mkdir -p $(SCALED_DIR)
	@CHATTRAIN_DATA_DIR=$(SCALED_DIR) CHATTRAIN_DATABASE_URL='$(DATABASE_URL)' $(BIN)/chattrain db upgrade
	@key_file="$$(CHATTRAIN_DATA_DIR=$(SCALED_DIR) $(BIN)/chattrain secret-key ensure)" && \
	CHATTRAIN_SECRET_KEY_FILE="$$key_file" CHATTRAIN_DATABASE_URL='$(DATABASE_URL)' CHATTRAIN_QUEUE_URL='$(QUEUE_URL)' \
	SCALED_DIR="$(abspath $(SCALED_DIR))" WEB1_PORT=$(PORT) WEB2_PORT=$$(($(PORT) + 1)) \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.scaled start

## Install the test dependencies and run the suite but for its slow end-to-end tests: the
## unit, API, worker and PostgreSQL tests and a representative few that start the real
## processes (tests/conftest.py names them), on TEST_WORKERS pytest-xdist workers (under 6
## minutes from a clean clone on a 2-core machine, README.md, Tests). Each test
## has its own ports, folders, databases and Redis key prefix, so they run side by side; a
## file's tests stay on one worker, as its shared fixtures (a module's stack, a browser)
## start once. `make run` (the quick start test) finds its installs done rather than racing
## another worker to do them (the test set first: it holds the other two, which then find
## everything in place).
## `make test-e2e` runs the rest; CI runs both, and the soak and container runs are separate.
## More pytest options for any of the three: `make test ARGS="--durations=30 -x"`.
TEST_WORKERS ?= 2
NOT_SEPARATE = not soak and not container
test: install-test install-server install browser-deps server-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow and $(NOT_SEPARATE)" $(ARGS)

## The end-to-end tests `make test` leaves out (marked `slow`): the outage, killed-worker,
## recovery and scaled-layout runs, the model and masking runs, schemathesis, the browser
## suite and the rest of tests/e2e (12 to 17 minutes on a 2-core machine). One at a time:
## several of them time what the processes do (a socket closed within a second) and stop
## servers on purpose.
test-e2e: install-test install-server install browser-deps server-deps
	$(BIN)/python -m pytest -q -m "slow and $(NOT_SEPARATE)" $(ARGS)

## The tests built on the app or the worker runtime again, each on a throwaway PostgreSQL
## database instead of a SQLite file (what CI runs after `make test`), on TEST_WORKERS
## workers as `make test` (each worker migrates a template database of its own); the
## machine's server on loopback when it answers, else a private one (docs/postgresql.md,
## Tests). One part:
##   make test-postgres PG_TESTS=tests/web
PG_TESTS ?= tests/web tests/worker tests/shared
test-postgres: install-test server-deps
	CHATTRAIN_TEST_DATABASE=postgres $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PG_TESTS) $(ARGS)

## The e2e suite runs on SQLite and on PostgreSQL + Redis: the machine's servers on loopback
## when they answer, else private ones the tests start from Debian's binaries (installed
## here with apt-get when missing and we are root; tests/support/servers.py, postgres.py).
server-deps:
	@command -v redis-server >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

## The browser tests drive Debian's Chromium (Playwright cannot download browsers here):
## installed with apt-get when missing and we are root; otherwise the tests say how.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## The README's screenshots, taken by the browser tests as they check each page
screenshots: install-test browser-deps
	CHATTRAIN_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser

## Build the container image and run it with podman, and compose.yaml's two layouts with
## podman-compose (as root: installs podman, runc, debootstrap and the CNI DNS plugin from
## Debian if missing; about 8 minutes the first time on a machine, 3 minutes after)
test-container: install-test
	$(BIN)/python -m pytest -q -m container tests/container

## The recovery tests repeated 20 times (slow)
soak: install-test server-deps
	$(BIN)/python -m pytest -q -m soak

## The performance benchmark: realistic load on paced models (mock and OpenAI-compatible)
## and the guards, one table (about 15 minutes; `make bench ARGS=--quick` for a one-minute
## smoke run, `ARGS="--cases r1,a --models openai"` to select)
bench: install-test
	$(BIN)/python -m bench.bench_chat $(ARGS)

## How far per-reply feedback agrees with a trainer's scores on the labelled replies in
## eval/feedback (tuning part and held-back part), and what judging a reply costs
eval: install-test
	$(BIN)/python eval/feedback/run.py $(ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
