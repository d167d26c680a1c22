# Set-up and the two README commands. Needs only Python 3.11 on the PATH.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## demo: the main job (today: a Gram matrix summary and a sampled residual)
demo: $(STAMP)
	$(BIN)/certify demo

## lint: ruff (lint + format check) and mypy on the package
lint: $(STAMP)
	$(BIN)/ruff check certify tests proofs benchmarks
	$(BIN)/ruff format --check certify tests proofs benchmarks
	$(BIN)/mypy

## test: lint, type-check, then the whole pytest suite (tests/, proofs/, doctests, notebooks)
test: lint
	$(BIN)/python -m pytest -n 2 certify tests proofs --nbmake notebooks

## bench: the benchmarks (ratios against named peers, one run)
bench: $(STAMP)
	$(BIN)/python benchmarks/gram.py
	$(BIN)/python benchmarks/enclosure.py
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
