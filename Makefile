# guardrails — the two commands a fresh machine needs are `make build` and `make test`.
# Everything installs into project-local virtual environments; nothing is downloaded at run time.

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
BIN := $(VENV)/bin
CHECKOV := $(abspath $(CHECKOV_VENV))/bin/checkov
# The one list of checkov's exact versions; it ships in the package for `guardrails setup checkov` too.
CHECKOV_LOCK := guardrails/data/checkov.lock
BLUEPRINT ?= blueprints
OUTPUT ?= output
export GUARDRAILS_CHECKOV := $(CHECKOV)
# The CDK tests fail instead of skipping when aws-cdk-lib is missing; Node.js 20 is supported by jsii (its
# end-of-life notice is silenced, the runtime still works).
export GUARDRAILS_REQUIRE_CDK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# tests/test_html_report.py fails instead of skipping when no Chromium is found (Debian's chromium package).
export GUARDRAILS_REQUIRE_BROWSER := 1

.DEFAULT_GOAL := help
.PHONY: help install chromium build validate test test-fast golden schema provider-schema bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml .ci/main.lock
	@node --version >/dev/null 2>&1 || { echo "Node.js 20 or later is required (aws-cdk-lib runs on it)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c .ci/main.lock -e '.[test,cdk]'
	@# jsii unpacks the CDK's JavaScript (~190 MB) on its first import: once here, not in the first test.
	$(BIN)/python -c "import aws_cdk, cdk_nag"
	@# An editable install writes no bytecode, and PYTHONDONTWRITEBYTECODE keeps Python from writing it later:
	@# without it every command recompiles ~140 modules (0.15-0.4 s of a 0.7 s `check`, docs/performance.md).
	$(BIN)/python -m compileall -q guardrails
	@touch $@

$(CHECKOV_VENV)/.installed: $(CHECKOV_LOCK)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(CHECKOV_LOCK)
	@touch $@

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed chromium ## create both virtual environments (and Chromium)

# Headless Chromium for the HTML report's browser test: Debian's package when root with apt-get, else how to get it.
chromium:
	@[ -n "$$GUARDRAILS_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium || \
	      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }; \
	  else echo "Chromium is missing: install it (Debian: sudo apt-get install chromium) or set GUARDRAILS_CHROMIUM" \
	    "to its path; tests/test_html_report.py needs it" >&2; fi

build: install ## install, compile $(BLUEPRINT) into $(OUTPUT), validate, print a summary
	$(BIN)/guardrails build $(BLUEPRINT) -o $(OUTPUT) --checkov $(CHECKOV)

validate: install ## validate the committed output: own checks, cfn-lint, checkov, parliament, cloudsplaining
	$(BIN)/guardrails validate $(BLUEPRINT) -o $(OUTPUT) --checkov $(CHECKOV)

test: install ## run the whole test suite (works on a clean clone)
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed ## tests without cfn-lint, checkov and the formatter
	$(BIN)/python -m pytest -m "not slow"

golden: install ## regenerate goldens, the JSON Schema and output/ (then read the diff!)
	$(BIN)/guardrails schema -o docs/blueprint.schema.json
	$(BIN)/guardrails library --markdown -o docs/job-functions.md
	$(BIN)/guardrails catalog --markdown -o docs/catalog.md
	$(BIN)/python -m pytest --update-golden -q tests/test_golden.py tests/test_blueprint_errors.py
	$(BIN)/guardrails build $(BLUEPRINT) -o $(OUTPUT) --checkov $(CHECKOV)

schema: $(VENV)/.installed ## write docs/blueprint.schema.json and docs/job-functions.md
	$(BIN)/guardrails schema -o docs/blueprint.schema.json
	$(BIN)/guardrails library --markdown -o docs/job-functions.md
	$(BIN)/guardrails catalog --markdown -o docs/catalog.md

provider-schema: $(VENV)/.installed ## download the pinned AWS provider schema (npm) into tests/data/
	$(BIN)/python tests/provider_schema.py -o tests/data/terraform_provider_schema.json

bench: install ## compile synthetic organizations of 10 to 5,000 accounts; print time, the write floor and memory
	$(BIN)/python tests/bench.py

clean: ## remove the virtual environments and caches (not output/)
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .hypothesis *.egg-info
