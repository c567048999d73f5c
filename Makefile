# The front door: CI calls the same targets.  `make help` lists them.
# CPython 3.12 when the machine has it: the pyenv build of 3.11.7 here corrupts memory under the
# calendar pages (a segfault in the garbage collector after a few hundred renders of the demo
# calendar; docs/operations.md, "Python version"); 3.12.1 runs the same load without a crash.
PY312 := $(shell for c in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12); do \
	$$c -c "" 2> /dev/null && echo $$c && break; done)
PYTHON ?= $(or $(PY312),python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed
E2E_STAMP := tests/e2e/node_modules/.installed

.PHONY: help venv js-deps e2e-deps e2e serve test test-pg lint openapi openapi-check db-check db-check-pg bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The tests also parse generated calendars with Mozilla's ical.js (node + npm).
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund
	touch $(JS_STAMP)

# The browser tests inject axe-core (npm) in the pages they check.
$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	touch $(E2E_STAMP)

venv: $(STAMP) $(JS_STAMP) ## create the virtualenv and install the project with its dev tools

js-deps: $(JS_STAMP) ## install the JavaScript parsers the tests use (tests/js, npm ci)

serve: $(STAMP) ## migrate, load the demo data and serve http://127.0.0.1:8000 (docs at /docs)
	$(BIN)/dcc-services db upgrade
	$(BIN)/dcc-services demo
	$(BIN)/dcc-services serve --host 127.0.0.1 --port 8000

test: $(STAMP) $(JS_STAMP) $(E2E_STAMP) ## the whole suite (SQLite; DCC_DATABASE_URL for PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

e2e-deps: $(E2E_STAMP) ## install Debian's Chromium + chromedriver (apt-get) and axe-core (npm)
	command -v chromium > /dev/null && command -v chromedriver > /dev/null \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

e2e: $(STAMP) $(E2E_STAMP) ## the browser tests only (headless Chromium; `make test` runs them too when installed)
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

test-pg: $(STAMP) $(JS_STAMP) ## run the whole suite on the local PostgreSQL
	# the browser tests run their own server on SQLite: once, in `make test`, is enough
	DCC_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, formatting and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

openapi: $(STAMP) ## regenerate openapi/openapi.json from the code
	$(BIN)/python -m server.openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

openapi-check: $(STAMP) ## fail when openapi/openapi.json differs from what the code generates
	$(BIN)/python -m server.openapi | diff -u openapi/openapi.json - > /dev/null \
		|| (echo "openapi/openapi.json is stale: run make openapi" && exit 1)

db-check: $(STAMP) ## models agree with migrations; every revision downgrades and upgrades again
	$(BIN)/python -m server.dbcheck

db-check-pg: $(STAMP) ## the same on the local PostgreSQL
	DCC_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m server.dbcheck

bench: $(STAMP) ## run every benchmark (long)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) instance .pytest_cache
