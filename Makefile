# Two entry points: `make demo` (the main job, no cluster needed) and `make test`.
# DEMO_ARGS passes options to `opgate demo` (e.g. DEMO_ARGS=--exit, or other ports).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench venv

$(BIN)/opgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/opgate

venv: $(BIN)/opgate

demo: venv
	$(BIN)/opgate demo $(DEMO_ARGS)

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Benchmarks (numbers, not tests): installs the bench extra (kopf, the admission peer).
# The admission benchmark wants `wrk` (Debian: apt-get install wrk); without it, an aiohttp
# load generator stands in.
bench: venv
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/admission.py
	$(BIN)/python bench/simulate.py
