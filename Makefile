# Entry points: `make test` (lint, types, the whole suite in .venv: Airflow 3.3 on Python 3.11, editable),
# `make test-matrix` (the built wheel on Airflow 3.0-3.3 x lowest/highest Python), `make test-ui` (the
# connection forms in a real browser), `make test-deployment`, `make demo`, `make docs` (the documentation site).
# Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

#: the pinned set of the main combination (Airflow 3.3); one file per supported minor in constraints/
CONSTRAINTS := constraints/airflow-3.3.txt

.PHONY: test test-deployment test-install test-prodstack test-matrix test-ui dist lint typecheck pytest demo bench emulator clean install docs

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[dev,testing,fingerprint]"
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(wildcard airflow_provider_music tests example_dags bench scripts)
	$(PY) scripts/check_shape.py
	$(PY) scripts/check_docstrings.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

#: pytest-xdist workers of `make pytest` / `make test`: most tests wait on real servers and subprocesses, so 3
#: workers on 2 cores cut the suite from ~17 to ~7 min; a module stays on one worker (its fixtures run once).
#: PYTEST_WORKERS=0 runs in one process (e.g. to debug with -s / --pdb).
PYTEST_WORKERS ?= 3

pytest: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/test $(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint typecheck pytest

# A real Airflow deployment (api-server, scheduler, dag-processor, triggerer) under faults; a few minutes.
test-deployment: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/deployment $(PY) -m pytest -q -p no:cacheprovider -o addopts="" -m "not prodstack" --ignore=tests/deployment/test_install.py tests/deployment $(PYTEST_ARGS)

# The README's "Install" blocks as written, in clean Python 3.11 venvs (pyenv): the wheel of `make dist` and the
# pinned set by path, into a new venv and into a venv that already holds Airflow (~3 min; pip reaches PyPI).
test-install: dist
	$(PY) -m pytest -q -p no:cacheprovider -o addopts="" tests/deployment/test_install.py $(PYTEST_ARGS)

# The production stack: PostgreSQL + Redis (Debian's packages, started on loopback with data in .prodstack/),
# CeleryExecutor with 2 workers and 2 triggerers; a triggerer and a worker SIGKILLed mid-run (~8 min).
test-prodstack: $(STAMP)
	@test -x /usr/bin/redis-server && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server > /dev/null; }
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[prodstack]"
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/prodstack $(PY) -m pytest -q -p no:cacheprovider -o addopts="" -m prodstack tests/deployment $(PYTEST_ARGS)

# sdist + wheel in dist/ (LICENSE and py.typed inside), checked by twine
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist . > /dev/null
	$(VENV)/bin/twine check --strict dist/*
	@unzip -l dist/*.whl | grep -q "licenses/LICENSE" && unzip -l dist/*.whl | grep -q "airflow_provider_music/py.typed"
	@tar -tzf dist/*.tar.gz | grep -q "/LICENSE$$" && tar -tzf dist/*.tar.gz | grep -q "/airflow_provider_music/py.typed$$"

# The built wheel in clean venvs (.matrix/): Airflow 3.0, 3.1, 3.2, 3.3 x lowest and highest Python.
# MATRIX_CELLS=3.0-py3.11,3.3-py3.13 picks cells; venvs are reused while their pinned set is unchanged.
test-matrix: dist
	$(PY) .ci/matrix.py

# The connection forms in Debian's Chromium (apt) against `airflow api-server` of Airflow 3.3 and 3.0.
test-ui: dist
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }
	$(PY) .ci/matrix.py --ui

# The documentation site (mkdocs.yml): docs/*.md, CHANGELOG.md and the reference generated from the docstrings
# (griffe reads the sources, imports nothing), into site/; any warning fails the build (strict). A few seconds.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[docs]"
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs build --strict --clean
	@# the build's own extension tests (skipped by `make test`, which does not install the docs extra)
	AIRFLOW_HOME=$(CURDIR)/.airflow-home/test $(PY) -m pytest -q -p no:cacheprovider -o addopts= tests/core/test_docs_tooling.py

emulator: $(STAMP)
	$(PY) -m airflow_provider_music.testing.emulator --host 127.0.0.1

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	@if ls bench/bench_*.py >/dev/null 2>&1; then for b in bench/bench_*.py; do $(PY) $$b || exit 1; done; else \
	  echo "make bench: no benchmarks yet"; exit 1; fi

clean:
	rm -rf $(VENV) .airflow-home .demo .pytest_cache .mypy_cache .ruff_cache .matrix dist .ui-screenshots site
