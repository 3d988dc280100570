# Samhandling. Two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint install install-test db-upgrade seed serve bench bench-push soak messages clean

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
	$(BIN)/samhandling seed-demo --port $(PORT)

# Demo contact details for the clinic (CLINIC_* settings, see README); set your own in the environment.
DEMO_CLINIC = CLINIC_NAME="$${CLINIC_NAME:-Smerteklinikken (demo)}" CLINIC_PHONE="$${CLINIC_PHONE:-+47 00 00 00 00}" \
	CLINIC_ADDRESS="$${CLINIC_ADDRESS:-Demoveien 1, 0000 Demo}" CLINIC_EMAIL="$${CLINIC_EMAIL:-smerteklinikken@example.no}" \
	CLINIC_HOURS="$${CLINIC_HOURS:-hverdager 08.00–15.00}"

## make run [PORT=8000]: install, migrate the SQLite database under var/, seed demo data, serve on http://localhost:$(PORT)
run: seed
	$(DEMO_CLINIC) $(BIN)/samhandling serve --port $(PORT)

## make test: install test dependencies, check style and layering, and run every test
test: install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff (style, unused names, import order) and import-linter (layers point down only)
lint: install-test
	$(BIN)/ruff check server tests
	$(BIN)/lint-imports

bench: install-test
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/access_log.py

## make soak: sustained concurrent writes on PostgreSQL (SOAK_DATABASE_URL=postgresql://...); must end crash-free
soak: install-test
	$(BIN)/python bench/soak.py
## make bench-push: 10 000 reminders pushed to a local endpoint; msg/s and the share of the crypto ceiling
bench-push: install-test
	$(BIN)/python bench/push.py

## Refresh the translation template and catalogs after changing user-facing text
messages: install
	# --ignore-dirs: pybabel skips folders starting with "_" (our _components/) unless told otherwise
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -o server/translations/messages.pot --no-location --omit-header --ignore-dirs='.*' .
	$(BIN)/pybabel update -i server/translations/messages.pot -d server/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) var .pytest_cache
