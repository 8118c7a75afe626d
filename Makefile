# The two commands of the README. Each sets up its own virtualenv (VENV, default ./venv) first.
VENV ?= venv
PY := $(VENV)/bin/python

.PHONY: preflight test setup setup-dev bench

$(VENV)/.installed: requirements.txt policies/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

## Offline preflight of every stack, as an update preview and as a first preview.
## PREFLIGHT_ARGS adds flags, e.g. `--sarif build/preflight.sarif --markdown build/preflight.md` in CI.
preflight: $(VENV)/.installed
	$(PY) -m preflight --all $(PREFLIGHT_ARGS)

## Lint, type checks and the test suite.
test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pyright --pythonpath $(PY)
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/preflight_vs_import.py
