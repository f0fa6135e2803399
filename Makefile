# opsync — developer commands. Every target creates .venv and installs the package when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint format test demo bench soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/opsync demo

bench: $(STAMP)
	$(BIN)/python -m bench

# the crash-kill test at full size (>= 500 events, 14 kills); OPSYNC_SOAK_SEED=N replays a run,
# OPSYNC_RELIABILITY_REPORT=path.json keeps its figures
soak: $(STAMP)
	OPSYNC_SOAK=1 $(BIN)/python -m pytest tests/e2e/test_crash_kill.py -s
