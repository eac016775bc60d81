# Stream-Sentinel — the two commands a new user needs are `make demo` and `make test`.
# Every target is idempotent: stamps under .venv/ record what is installed, so reruns are quick.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SENTINEL := $(BIN)/stream-sentinel
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-unit test-integration lint setup setup-runtime setup-dev setup-kafka setup-redis setup-java setup-chromium bench clean

## demo: the whole system in one process on embedded backends (needs only Python >= 3.11);
## flags go through DEMO_ARGS, e.g. make demo DEMO_ARGS="--duration 2m --rate 5000"
## the console is served too, on the run's backends (CONSOLE_PORT=0: any free port);
## DEMO_ARGS="--keep-open" keeps it open on the run's data after the summary
DEMO_ARGS ?=
CONSOLE_PORT ?= 8080
demo: setup-runtime
	$(SENTINEL) demo --console-port $(CONSOLE_PORT) $(DEMO_ARGS)

## test: installs everything (Python deps, Kafka jars via Maven, redis-server) and runs every tier;
## the tests run in TEST_WORKERS processes, a test file each at a time (every stack a test starts
## is on free ports of its own, so two files never share one); TEST_WORKERS=0 runs them in one
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile
test: setup-dev setup-kafka setup-redis setup-chromium
	$(BIN)/lint-imports
	$(PYTEST) --durations=15 tests

test-unit: setup-dev
	$(PYTEST) -m "unit or contract" -q tests/unit tests/contract

test-integration: setup-dev setup-kafka setup-redis setup-chromium
	$(PYTEST) --durations=15 tests/integration tests/e2e

lint: setup-dev
	$(BIN)/lint-imports
	$(BIN)/ruff check stream_sentinel tests
	$(BIN)/ruff format --check stream_sentinel tests
	$(BIN)/mypy

setup: setup-dev setup-kafka setup-redis setup-chromium

setup-runtime: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Stream-Sentinel needs Python >= 3.11 (found: $$($(PYTHON) --version 2>&1)). Run: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	touch $@

$(VENV)/.runtime: pyproject.toml $(VENV)/.python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## Java + Maven (only for the real Kafka broker), from Debian's packages when missing
setup-java:
	@command -v java >/dev/null && command -v mvn >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openjdk-17-jre-headless maven; }

## Kafka jars from Maven Central into ~/.cache/stream-sentinel (outside the work tree)
setup-kafka: setup-java setup-runtime
	$(SENTINEL) infra install

## redis-server from Debian's package when missing
setup-redis:
	@command -v redis-server >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

## Chromium from Debian's package when missing: the console's browser tests drive it with
## Playwright (never `playwright install`: no browser is downloaded)
setup-chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

bench: setup-dev setup-kafka setup-redis
	$(SENTINEL) bench all --json bench-results.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
