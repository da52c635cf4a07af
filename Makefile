# Beacon's verbs. `make run` and `make test` bootstrap everything they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
SAM_VENV   := .venv-sam
SAM        := $(SAM_VENV)/bin/sam
PORT       ?= 3000
export PYTHONPATH := $(CURDIR)/layers/beacon:$(CURDIR)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PROJECT ?= demo
TYPE    ?= write
ORIGIN  ?=
RATE    ?=
BURST   ?=
STACK   ?=
FN      ?= track
EVENT   ?= events/track.json

.PHONY: help bootstrap run test test-unit soak lint lock format build invoke client deploy bench clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/beacon/requirements.txt
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON_SYS) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

bootstrap: $(VENV)/.installed node_modules/.installed ## install Python deps (.venv) and DynamoDB Local (node_modules)
	@command -v java >/dev/null || { echo "error: Java 17+ is needed to run DynamoDB Local"; exit 1; }

run: bootstrap ## serve the API on http://127.0.0.1:$(PORT) with DynamoDB Local and the Secrets Manager emulator
	$(PY) -m local.stack run --port $(PORT)

test: bootstrap ## run every test (unit, integration, end-to-end); starts and stops what it needs
	$(PY) -m pytest

test-unit: bootstrap ## unit tests only (no sockets)
	$(PY) -m pytest tests/unit

soak: bootstrap ## long forms (not in CI): 60 s of load through the local gateway, the fuzz suite's big profile
	BEACON_SOAK_SECONDS=$(or $(SOAK_SECONDS),60) $(PY) -m pytest -q -s tests/load
	HYPOTHESIS_PROFILE=beacon-soak $(PY) -m pytest -q tests/fuzz --hypothesis-show-statistics
	HYPOTHESIS_PROFILE=beacon-soak $(PY) -m pytest -q tests/e2e/test_openapi_schemathesis.py --hypothesis-show-statistics

lint: bootstrap $(SAM_VENV)/.installed ## ruff, mypy, sam validate --lint, pip-audit, and the lock against minimum safe versions
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/beacon/beacon functions local admin tests bench
	$(SAM) validate --lint
	$(VENV)/bin/pip-audit -r layers/beacon/requirements.txt
	$(PY) -m admin.dependencies check

lock: bootstrap ## re-resolve layers/beacon/requirements.txt into requirements.lock (every package, wheel hashes, both platforms)
	$(PY) -m admin.dependencies lock

format: bootstrap ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

build: $(SAM_VENV)/.installed ## sam build (python3.13 arm64 layer via the makefile build method)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build

invoke: bootstrap ## run one function on one event in-process: make invoke FN=track EVENT=events/track.json
	$(PY) -m local.invoke $(FN) $(EVENT)

client: bootstrap ## create a client: make client PROJECT=demo [TYPE=write|read|root] [ORIGIN=o] [RATE=r BURST=b] [STACK=name]
	@$(PY) -m admin clients create --project "$(PROJECT)" --type "$(TYPE)" \
		$(if $(ORIGIN),--origin "$(ORIGIN)") $(if $(RATE),--rate $(RATE)) $(if $(BURST),--burst $(BURST)) \
		$(if $(STACK),--stack-name "$(STACK)")

.PHONY: clients
clients: bootstrap ## the client lifecycle: make clients [CMD="list|show ID|rotate ID|revoke ID"] [STACK=name] (or ./beacon clients)
	@$(PY) -m admin clients $(or $(CMD),list) $(if $(STACK),--stack-name "$(STACK)")

bench: bootstrap $(SAM_VENV)/.installed ## benchmarks: every ratio measured side by side in one run, with its target (bench/results/)
	@date +%s > .bench-started
	$(PY) -m bench.cpu
	$(PY) -m bench.handler
	$(PY) -m bench.coldstart
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m bench.package
	$(PY) -m bench.ingest
	$(PY) -m bench.reads
	$(PY) -m bench.useragent
	$(PY) -m bench.lake
	$(PY) -m bench.cost
	@$(PY) -m bench.summary $$(cat .bench-started) && rm -f .bench-started

.PHONY: query
query: bootstrap ## SQL over a project's lake tables: make query PROJECT=p SQL="SELECT count(*) FROM events" [FORMAT=table] [STACK=name]
	@$(PY) -m admin query --project "$(PROJECT)" "$(SQL)" $(if $(FORMAT),--format "$(FORMAT)") \
		$(if $(STACK),--stack-name "$(STACK)")

openapi: bootstrap ## regenerate docs/openapi.json from the pydantic models
	$(PY) -m admin.openapi docs/openapi.json

deploy: build ## sam deploy --guided (needs AWS credentials)
	$(SAM) deploy --guided

clean: ## remove build output and local data (keeps the venvs)
	rm -rf .aws-sam .local
