# Music Store: `make run` starts everything, `make test` runs every test.
# Both install what is missing first: a virtual environment with the locked dependencies,
# and (for the tests) Chromium with its driver from the system's packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format typecheck browser containers bench lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "could not make a virtual environment: install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Make the virtual environment with the locked dependencies

run: $(STAMP) ## Run the whole system (store :5000, orders :5001, cart :5002, traffic :5004) until Ctrl-C
	$(BIN)/musicstore up

browser: ## Install Chromium and chromedriver from the system's packages when absent
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "Chromium and chromedriver are missing; install the packages chromium and chromium-driver"; exit 1; fi; \
	echo "installing chromium and chromium-driver"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null

containers: ## As root, install podman, podman-compose and mmdebstrap when absent (the container test needs them)
	@if command -v podman >/dev/null && command -v podman-compose >/dev/null && command -v mmdebstrap >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "podman, podman-compose or mmdebstrap is missing: the container test will be skipped"; exit 0; fi; \
	echo "installing podman, podman-compose and mmdebstrap"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman podman-compose mmdebstrap runc uidmap >/dev/null

test: $(STAMP) browser containers ## Run every test (unit, integration, browser, containers, end to end)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests without the slow browser, multi-process and fault-timing ones
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP) ## Check style and types (ruff, mypy)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP) ## Format the code
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP) ## Measure req/s, latency, memory and start-up beside a Flask hello-world (wrk; ~6 min)
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "wrk is missing: install Debian's package (sudo apt-get install wrk), then run make bench again"; exit 1; fi; \
	  echo "installing wrk"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	fi
	PYTHONPATH=. $(BIN)/python bench/http_bench.py

lock: ## Re-resolve requirements.lock (and the images' requirements-runtime.lock) from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -c requirements.lock -o requirements-runtime.lock

clean: ## Remove the virtual environment and caches (keeps ./var)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
