# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AXE := tests/axe/node_modules/axe-core/axe.min.js

.PHONY: run test system-deps lint bench screenshot clean i18n

# The interface's catalogues as digest reads them (.mo), compiled from the .po files kept in the repository.
MO := $(patsubst %.po,%.mo,$(wildcard digest/locale/*/LC_MESSAGES/digest.po))

# compileall: where PYTHONDONTWRITEBYTECODE is set, every run would otherwise compile the package again.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q digest
	touch $(STAMP)

## run: set up, then build the default letter from the bundled samples (offline)
run: $(STAMP) $(MO)
	$(BIN)/digest build -c sources.toml
	@echo "digest is installed in $(VENV): run it as $(BIN)/digest (or 'source $(BIN)/activate', then digest)."
	@echo "On a team's machine: pipx install . (then digest anywhere); digest init DOSSIER starts a new letter."

## test: set up (the Debian packages the tests drive, .venv, axe-core), then lint, type-check and run every test
test: system-deps $(STAMP) $(MO) $(AXE)
	$(BIN)/ruff check digest tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

## system-deps: install the Debian packages the tests drive (chromium, spamassassin, dovecot-imapd, npm, openssl, curl)
## where missing, as root or with sudo -n; otherwise stop, printing the one command to run
system-deps:
	$(PYTHON) scripts/system-deps.py

# axe-core for the accessibility tests (tests/test_reader.py): the npm package pinned in tests/axe/, installed with
# the npm that system-deps provides (order-only: a run of system-deps does not make axe-core out of date).
$(AXE): tests/axe/package.json tests/axe/package-lock.json | system-deps
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	touch $@

%.mo: %.po $(STAMP)
	$(BIN)/python scripts/i18n.py compile

## i18n: the catalogues brought up to the code: extract the messages, update each .po, compile the .mo files
i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py extract update compile

lint: $(STAMP)
	$(BIN)/ruff check digest tests benchmarks scripts
	$(BIN)/mypy

## bench: time and peak memory of the builds (figures printed, targets checked)
bench: $(STAMP) $(MO)
	$(BIN)/python benchmarks/run.py

## screenshot: redo docs/letter.png (the default letter at desktop and phone widths) and docs/desk.png (the
## editorial desk at 1400 px) (needs Debian's chromium)
screenshot: $(STAMP) $(MO)
	$(BIN)/python scripts/screenshot.py
	$(BIN)/python scripts/screenshot.py --desk

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info tests/axe/node_modules
