# rhocat: make setup | demo | test | bench | lint
# Every target installs what it needs: on a fresh machine `make test` or
# `make demo` is the only command to type.

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.rhocat-installed
SUDO    := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export OMP_NUM_THREADS ?= 1

.PHONY: setup qe chromium venv test test-fast demo demo-quick bench lint format clean

setup: qe venv

# Headless Chromium renders the HTML report in a test; best effort (the test
# skips with its reason when no browser can be installed).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (apt-get) for the report screenshot test"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  echo "chromium could not be installed; the report screenshot test will skip"; }

# Quantum ESPRESSO from Debian, only when pw.x is missing.
qe:
	@command -v pw.x >/dev/null 2>&1 || { \
	  echo "installing Quantum ESPRESSO (apt-get)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq quantum-espresso quantum-espresso-data >/dev/null; }
	@command -v pw.x >/dev/null 2>&1 || { echo "pw.x still missing after apt-get" >&2; exit 1; }

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py src/rhocat/qe/_hpsort.c
	@[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,aiida,relax,tensorboard]'
	@touch $(STAMP)

test: setup chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -p no:cacheprovider -m "not long" --durations=25

test-fast: setup
	$(BIN)/python -m pytest -q -x -m "not slow and not aiida and not long"

demo: setup
	$(BIN)/rhocat demo -o demo

demo-quick: setup
	$(BIN)/rhocat demo --quick -o demo-quick

bench: setup
	$(BIN)/python benchmarks/run_all.py

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
