# The two commands of the README. Each sets up its own virtualenv (VENV, default ./venv) first, with only
# what it needs: `preflight` installs requirements.txt, `test` also requirements-dev.txt.
VENV ?= venv
PY := $(VENV)/bin/python
# --no-compile: pip would byte-compile all of pulumi_aws and pulumi_gcp, most of an install's CPU time
# (about 40 of the 51 CPU seconds of an install here); Python compiles what a run imports, once, as it imports it,
# and keeps it in __pycache__, unless PYTHONDONTWRITEBYTECODE is set, as it is on some CI images and sandboxes:
# then every run compiled its imports again (the preflight's SDK import took 21 s instead of 8). Not for our runs.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile
unexport PYTHONDONTWRITEBYTECODE

.PHONY: preflight test setup setup-dev bench

$(VENV)/.installed: requirements.txt policies/requirements.txt
	python3 -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) -r requirements-dev.txt
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
	$(VENV)/bin/pyrefly check --python-interpreter-path $(PY)
	$(PY) -m pytest

## The preflight against its floor, and the test loop split by step (needs the dev tools).
bench: $(VENV)/.installed-dev
	$(PY) benchmarks/preflight_vs_import.py
	$(PY) benchmarks/loop.py
