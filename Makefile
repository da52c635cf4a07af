# Beacon's verbs. `make run` and `make test` bootstrap everything they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
SAM_VENV   := .venv-sam
SAM        := $(SAM_VENV)/bin/sam
# Lambda runs Python 3.13; the dev tools run the system's. A python3.13 on PATH or from pyenv runs the unit tests too.
PY313      ?= $(shell for c in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	$$c -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { command -v $$c; break; }; done)
VENV313    := .venv-py313
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
REGION  ?=
PROFILE ?=
FORMAT  ?=
FN      ?= track
EVENT   ?= events/track.json

.PHONY: help bootstrap bootstrap-run browser dashboard run test test-unit test-py313 smoke soak lint lock referrers format build invoke events client deploy bench clean

help: ## list the verbs
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}' \
		| sed 's/\$$(PORT)/$(PORT)/g'

# Two stages in one .venv: what running needs (`make run`, `make client`, …), then the development tools on top
# (`make test`, `make lint`). pip's progress shows one line per package, so a first install is never silent.
PIP_PROGRESS := awk '/^(Collecting|Installing collected|Successfully installed)/ { print "    " substr($$0, 1, 160); fflush() }'

$(VENV)/.run-installed: requirements-run.txt layers/beacon/requirements.txt
	@echo "==> .venv: creating it with $$($(PYTHON_SYS) --version)"
	@$(PYTHON_SYS) -m venv $(VENV)
	@echo "==> .venv: upgrading pip"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "==> .venv: installing what running Beacon needs (requirements-run.txt)"
	@set -o pipefail; $(PY) -m pip install --progress-bar off -r requirements-run.txt | $(PIP_PROGRESS)
	@touch $@

$(VENV)/.installed: $(VENV)/.run-installed requirements-dev.txt
	@echo "==> .venv: adding the development and test tools (requirements-dev.txt)"
	@set -o pipefail; $(PY) -m pip install --progress-bar off -r requirements-dev.txt | $(PIP_PROGRESS)
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON_SYS) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> node_modules: DynamoDB Local and the browser SDK (npm ci)"
	@npm ci --no-audit --no-fund --silent
	@touch $@

bootstrap-run: $(VENV)/.run-installed node_modules/.installed ## install only what running needs (make run, make client, ./beacon)
	@command -v java >/dev/null || { echo "error: Java 17+ is needed to run DynamoDB Local"; exit 1; }

bootstrap: bootstrap-run $(VENV)/.installed ## install everything: what running needs, then the dev and test tools

# Debian's chromium for tests/browser. Nothing when it is there; installed when root with apt-get; otherwise the
# browser tests skip with a message, except under CI=true, where a missing browser fails here (and in the tests).
browser: ## install Debian's chromium for the browser tests (tests/browser), when missing
	@if command -v chromium >/dev/null || [ -n "$$BEACON_CHROMIUM" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for tests/browser (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null && \
		apt-get -q -y -o DPkg::Lock::Timeout=300 install chromium >/dev/null || \
		{ echo "error: apt-get could not install chromium"; exit 1; }; \
	elif [ "$$CI" = true ]; then \
		echo "error: CI=true and no chromium: the browser tests cannot run (install Debian's chromium, or run as root)"; exit 1; \
	else \
		echo "note: no chromium and not root: tests/browser will be skipped (sudo make browser installs it)"; \
	fi

dashboard: bootstrap-run ## copy the dashboard's pinned uPlot from node_modules next to the page (served at /dashboard/)
	$(PY) -m admin.dashboard

run: bootstrap-run dashboard ## serve the API on http://127.0.0.1:$(PORT) with DynamoDB Local and the Secrets Manager emulator
	$(PY) -m local.stack run --port $(PORT)

test: bootstrap $(SAM_VENV)/.installed browser dashboard ## run every test (unit, integration, end-to-end, browser); starts and stops what it needs
	$(PY) -m pytest

test-unit: bootstrap ## unit tests only (no sockets)
	$(PY) -m pytest tests/unit

$(VENV313)/.installed: requirements-dev.txt layers/beacon/requirements.txt
	@test -n "$(PY313)" || { echo "error: no python3.13 (on PATH or under ~/.pyenv/versions); set PY313=/path/to/python3.13"; exit 1; }
	@echo "creating $(VENV313) with $(PY313) (about 1.5 minutes the first time)"
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

print-py313:
	@echo "$(PY313)"

test-py313: $(VENV313)/.installed ## the unit tests on Python 3.13, Lambda's runtime (CI runs them when a python3.13 exists)
	$(VENV313)/bin/python -m pytest -q tests/unit

soak: bootstrap ## long forms (not in CI): 60 s of load through the local gateway, the fuzz suite's big profile
	BEACON_SOAK_SECONDS=$(or $(SOAK_SECONDS),60) $(PY) -m pytest -q -s tests/load
	HYPOTHESIS_PROFILE=beacon-soak $(PY) -m pytest -q tests/fuzz --hypothesis-show-statistics
	HYPOTHESIS_PROFILE=beacon-soak $(PY) -m pytest -q tests/e2e/test_openapi_schemathesis.py --hypothesis-show-statistics

lint: bootstrap $(SAM_VENV)/.installed ## ruff, mypy, sam validate --lint, pip-audit, the lock against minimum safe versions, the referrer table against its sources
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/beacon/beacon functions local admin tests bench
	$(SAM) validate --lint
	$(VENV)/bin/pip-audit -r layers/beacon/requirements.txt
	$(PY) -m admin.dependencies check
	$(PY) -m admin.referrers check

lock: bootstrap ## re-resolve layers/beacon/requirements.txt into requirements.lock (every package, wheel hashes, both platforms)
	$(PY) -m admin.dependencies lock

referrers: bootstrap ## refresh the referrer hosts from the pinned PyPI package (Snowplow's data) into layers/beacon/beacon/data
	$(PY) -m admin.referrers refresh

format: bootstrap ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

build: $(SAM_VENV)/.installed dashboard ## sam build (python3.13 arm64 layer via the makefile build method)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build

invoke: bootstrap-run ## run one function on one event in-process: make invoke FN=track EVENT=events/track.json
	$(PY) -m local.invoke $(FN) $(EVENT)

events: bootstrap-run ## for sam local invoke (make run running): env.json with its ports, .local/events/authorizer.json with a new client
	$(PY) -m local.sam_events

client: bootstrap-run ## create a client: make client PROJECT=demo [TYPE=write|read|root] [ORIGIN=o] [RATE=r BURST=b] [STACK=name [REGION=r] [PROFILE=p]] [FORMAT=env]
	@$(PY) -m admin clients create --project "$(PROJECT)" --type "$(TYPE)" \
		$(if $(ORIGIN),--origin "$(ORIGIN)") $(if $(RATE),--rate $(RATE)) $(if $(BURST),--burst $(BURST)) \
		$(if $(STACK),--stack-name "$(STACK)") $(if $(REGION),--region "$(REGION)") $(if $(PROFILE),--profile "$(PROFILE)") \
		$(if $(FORMAT),--format "$(FORMAT)")

.PHONY: clients
clients: bootstrap-run ## the client lifecycle: make clients [CMD="list|show ID|rotate ID|revoke ID"] [STACK=name] (or ./beacon clients)
	@$(PY) -m admin clients $(or $(CMD),list) $(if $(STACK),--stack-name "$(STACK)") \
		$(if $(REGION),--region "$(REGION)") $(if $(PROFILE),--profile "$(PROFILE)")

bench: bootstrap $(SAM_VENV)/.installed ## benchmarks: every ratio measured side by side in one run, with its target (bench/results/)
	@date +%s > .bench-started
	$(PY) -m bench.cpu
	$(PY) -m bench.handler
	$(PY) -m bench.coldstart
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m bench.package
	$(PY) -m bench.ingest
	$(PY) -m bench.reads
	$(PY) -m bench.sessions
	$(PY) -m bench.useragent
	$(PY) -m bench.lake
	$(PY) -m bench.erasure
	$(PY) -m bench.dashboard
	$(PY) -m bench.cost
	@$(PY) -m bench.summary $$(cat .bench-started) && rm -f .bench-started

smoke: bootstrap ## every request type against a deployed stack, read back: make smoke STACK=name (no STACK: make run's)
	@$(PY) -m admin smoke $(if $(STACK),--stack-name "$(STACK)") $(if $(REGION),--region "$(REGION)") \
		$(if $(PROFILE),--profile "$(PROFILE)") $(if $(STACK),,--url http://127.0.0.1:$(PORT))
.PHONY: query
query: bootstrap-run ## SQL over a project's lake tables: make query PROJECT=p SQL="SELECT count(*) FROM events" [FORMAT=table] [STACK=name]
	@$(PY) -m admin query --project "$(PROJECT)" "$(SQL)" $(if $(FORMAT),--format "$(FORMAT)") \
		$(if $(STACK),--stack-name "$(STACK)")

openapi: bootstrap ## regenerate docs/openapi.json (and the copy the API serves, in the layer) from the pydantic models
	$(PY) -m admin.openapi docs/openapi.json layers/beacon/beacon/data/openapi.json

# The first deploy is guided (stack name, region, parameters, saved in samconfig.toml); later ones reuse them.
deploy: build ## sam deploy (the first time --guided; needs AWS credentials)
	@if $(PYTHON_SYS) -c 'import sys, tomllib; c = tomllib.load(open("samconfig.toml", "rb")); sys.exit("region" not in c["default"].get("deploy", {}).get("parameters", {}))'; \
	then $(SAM) deploy; else $(SAM) deploy --guided; fi

clean: ## remove build output and local data (keeps the venvs)
	rm -rf .aws-sam .local
