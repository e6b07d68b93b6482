# Dance of Mind: one-command development and tests. Needs only python3 (3.11+).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Rebuilt whenever a requirements file changes.
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=
SOAK_ARGS ?=
# pytest exits 5 when a layer selects no test yet: that is not a failure of that layer.
PYTEST_LAYER = echo "$(PY) -m pytest -m $(1) $(PYTEST_ARGS)"; status=0; $(PY) -m pytest -m $(1) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "no $(1) tests yet"; status=0; fi; exit $$status

.DEFAULT_GOAL := help
.PHONY: help venv run phone doctor migrate test test-unit test-integration test-e2e security-report bench soak clean

help: ## list the targets
	@echo "Dance of Mind: make <target>"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'
	@echo "Variables: PYTHON=$(PYTHON) VENV=$(VENV) PYTEST_ARGS='...' PHONE_NUMBER=+7... PHONE_USER_ID=... PHONE_SCRIPT='start <bot_url>; approve <match_code>'"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install requirements-dev.txt

run: $(STAMP) ## start web, worker and bot (embedded Postgres/Redis/Telegram where unset)
	$(PY) -m devstack run

phone: $(STAMP) ## play a Telegram user against the running emulator (PHONE_NUMBER, PHONE_USER_ID, PHONE_SCRIPT)
	$(PY) -m devstack phone $(if $(PHONE_SCRIPT),--script "$(PHONE_SCRIPT)")

doctor: $(STAMP) ## check the running `make run` stack, or what .env configures (exit 0: all good)
	@$(PY) -m devstack doctor

migrate: $(STAMP) ## apply the database migrations
	$(PY) -m devstack migrate

test: $(STAMP) ## run the whole test suite (PYTEST_ARGS passes options)
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit tests only (no services)
	@$(call PYTEST_LAYER,unit)

test-integration: $(STAMP) ## integration tests (real Postgres and Redis)
	@$(call PYTEST_LAYER,integration)

test-e2e: $(STAMP) ## end-to-end tests (every process)
	@$(call PYTEST_LAYER,e2e)

security-report: $(STAMP) ## run the fault and bad-input tests, print what was survived, tried and checked
	$(PY) -m tests.report $(PYTEST_ARGS)

bench: $(STAMP) ## benchmark the whole system on embedded services, ~7 min (BENCH_ARGS=--quick or --save)
	$(PY) -m bench $(BENCH_ARGS)

soak: $(STAMP) ## whole logins for 10 min on embedded services: memory per process and Redis over time (SOAK_ARGS=--minutes 2, --save)
	$(PY) -m bench.soak $(SOAK_ARGS)

clean: ## remove .venv, .devstack (dev database, JWT key) and test artifacts
	rm -rf $(VENV) .devstack test-artifacts
