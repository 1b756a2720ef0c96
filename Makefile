# Two entry points: `make test` and `make demo`. Both create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test test-deployment lint typecheck pytest demo bench emulator clean install

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c constraints.txt -e ".[dev,testing,fingerprint]"
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(wildcard airflow_provider_music tests example_dags bench scripts)

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/test $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck pytest

# A real Airflow deployment (api-server, scheduler, dag-processor, triggerer) under faults; a few minutes.
test-deployment: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/deployment $(PY) -m pytest -q -p no:cacheprovider -o addopts="" tests/deployment $(PYTEST_ARGS)

emulator: $(STAMP)
	$(PY) -m airflow_provider_music.testing.emulator --host 127.0.0.1 --port 8080

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	@if ls bench/bench_*.py >/dev/null 2>&1; then for b in bench/bench_*.py; do $(PY) $$b || exit 1; done; else \
	  echo "make bench: no benchmarks yet"; exit 1; fi

clean:
	rm -rf $(VENV) .airflow-home .demo .pytest_cache .mypy_cache .ruff_cache
