# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench screenshot clean

# compileall: where PYTHONDONTWRITEBYTECODE is set, every run would otherwise compile the package again.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q digest
	touch $(STAMP)

## run: set up, then build the default letter from the bundled samples (offline)
run: $(STAMP)
	$(BIN)/digest build -c sources.toml

## test: set up, then lint, type-check and run every test
test: $(STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/mypy

## bench: time and peak memory of the builds (figures printed, targets checked)
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## screenshot: redo docs/letter.png (the default letter at desktop and phone widths) and docs/desk.png (the
## editorial desk at 1400 px) (needs Debian's chromium)
screenshot: $(STAMP)
	$(BIN)/python scripts/screenshot.py
	$(BIN)/python scripts/screenshot.py --desk

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
