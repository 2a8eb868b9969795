# rhocat: make setup | demo | test | bench | lint
# Every target installs what it needs: on a fresh machine `make test` or
# `make demo` is the only command to type.

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.rhocat-installed
SUDO    := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export OMP_NUM_THREADS ?= 1

.PHONY: setup qe venv test test-fast demo demo-quick bench lint format clean

setup: qe venv

# Quantum ESPRESSO from Debian, only when pw.x is missing.
qe:
	@command -v pw.x >/dev/null 2>&1 || { \
	  echo "installing Quantum ESPRESSO (apt-get)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq quantum-espresso quantum-espresso-data >/dev/null; }
	@command -v pw.x >/dev/null 2>&1 || { echo "pw.x still missing after apt-get" >&2; exit 1; }

venv: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,aiida]'
	@touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -x -m "not slow and not aiida"

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
