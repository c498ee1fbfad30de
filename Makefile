# The README's two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AXE := tests/axe/node_modules/axe-core/axe.min.js
# The package as the team installs it: the wheel, in a virtual environment of its own (not the editable checkout).
INSTALLED := .venv-installed
INSTALLED_STAMP := $(INSTALLED)/.installed-stamp
PACKAGE_FILES := $(shell find digest templates -type f -not -path '*/__pycache__/*' -not -name '*.mo') setup.py pyproject.toml

.PHONY: run test system-deps lint bench screenshot screens clean i18n

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
	@echo "digest est installé dans $(VENV) : lancez-le avec $(BIN)/digest (ou « source $(BIN)/activate », puis digest)."
	@echo "Sur la machine de l’équipe : pipx install . (puis digest partout) ; digest init DOSSIER commence une lettre."

## test: set up (the Debian packages the tests drive, .venv, axe-core, the wheel installed in .venv-installed), then
## lint, type-check and run every test; the month's end-to-end tests run the installed `digest` (tests/installed.py)
test: system-deps $(STAMP) $(MO) $(AXE) $(INSTALLED_STAMP)
	$(BIN)/ruff check digest tests benchmarks scripts
	$(BIN)/mypy
	DIGEST_INSTALLED=$(abspath $(INSTALLED))/bin/digest $(BIN)/python -m pytest

# The wheel built from the sources (the catalogues compiled by its own build), installed with its dependencies in a
# fresh virtual environment: what `pipx install .` gives the team.
$(INSTALLED_STAMP): $(STAMP) $(PACKAGE_FILES)
	rm -rf build $(INSTALLED)  # the whole build folder: an old build/lib would put removed modules back
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w build/dist .
	$(PYTHON) -m venv $(INSTALLED)
	$(INSTALLED)/bin/python -m pip install --quiet --upgrade pip
	$(INSTALLED)/bin/python -m pip install --quiet build/dist/digest-*.whl
	touch $@

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

## screenshot: redo docs/letter.png (the default letter at desktop and phone widths) (needs Debian's chromium)
screenshot: $(STAMP) $(MO)
	$(BIN)/python scripts/screenshot.py

## screens: every page digest serves (the desk, the forms, the subscriber's page, the archive, an error) at 1400,
## 1024 and 390 px into docs/screens/, which tests/test_screens.py compares with the pages as they are
screens: $(STAMP) $(MO)
	$(BIN)/python scripts/screens.py

clean:
	rm -rf $(VENV) $(INSTALLED) .pytest_cache .mypy_cache .ruff_cache build *.egg-info tests/axe/node_modules
