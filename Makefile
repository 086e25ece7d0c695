# Trouw: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs every check and
# every test (CONTRIBUTING.md says what each one is for).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint imports schema bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Trouw needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,otel]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/trouw serve --demo

test: lint
	$(BIN)/pytest

# Everything but the tests: style, formatting, types and the import contracts in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

imports: $(STAMP)
	$(BIN)/lint-imports --no-logo --show-timings

schema: $(STAMP)
	$(BIN)/trouw export-schema
	$(BIN)/trouw export-error-codes
	$(BIN)/trouw export-persisted-documents

bench: $(STAMP)
	@for b in bench/bench_*.py; do PYTHONPATH=$(CURDIR) $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
