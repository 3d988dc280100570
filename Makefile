# Samhandling. Two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint install install-test db-upgrade seed serve bench messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

db-upgrade: install
	$(BIN)/samhandling db-upgrade

seed: db-upgrade
	$(BIN)/samhandling seed-demo

## make run: install, migrate the SQLite database under var/, seed demo data, serve on http://localhost:8000
run: seed
	$(BIN)/samhandling serve --port $(PORT)

## make test: install test dependencies, check style and layering, and run every test
test: install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff (style, unused names, import order) and import-linter (layers point down only)
lint: install-test
	$(BIN)/ruff check server tests
	$(BIN)/lint-imports

bench: install-test
	$(BIN)/python bench/patient_list.py
	$(BIN)/python bench/access_log.py

## Refresh the translation template and catalogs after changing user-facing text
messages: install
	# --ignore-dirs: pybabel skips folders starting with "_" (our _components/) unless told otherwise
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -o server/translations/messages.pot --no-location --omit-header --ignore-dirs='.*' .
	$(BIN)/pybabel update -i server/translations/messages.pot -d server/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache
