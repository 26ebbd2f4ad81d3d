# Two commands for a fresh machine: `make run` (set up and serve with data) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint migrations-check serve collectstatic clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

## run: create .venv, install, migrate, import data if there is none (WPP_SOURCE or the official file), serve
run: $(VENV)/.installed
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py import_wpp --if-empty $${WPP_SOURCE:+"$$WPP_SOURCE"}
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: create .venv, install the dev requirements, run the whole suite (DATABASE_URL if set, else SQLite)
test: $(VENV)/.installed-dev
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/python manage.py collectstatic --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/python manage.py makemigrations --check --dry-run -v0
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
