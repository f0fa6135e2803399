# opsync — developer commands. Every target creates .venv and installs the package when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint format test demo bench soak browser

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

# Debian's chromium for the dashboard's browser test (tests/e2e/test_dashboard_browser.py);
# installed only when missing and when root with apt-get, else that test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
			|| echo "chromium could not be installed: the dashboard browser test will skip"; \
	fi

test: lint browser
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/opsync demo

bench: $(STAMP)
	$(BIN)/python -m bench

# the crash-kill test at full size (>= 500 events, 14 kills); OPSYNC_SOAK_SEED=N replays a run,
# OPSYNC_RELIABILITY_REPORT=path.json keeps its figures
soak: $(STAMP)
	OPSYNC_SOAK=1 $(BIN)/python -m pytest tests/e2e/test_crash_kill.py -s
