# Two commands for a fresh machine: `make run` (set up and serve with data) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run env worker data-official test test-fast lint migrations-check serve collectstatic clean check-deploy check-reliability check-api-contract check-site-quality bench-import bench-http bench-accuracy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

## run: create .venv, install, write .env (first run), compile the project's bytecode (where
## PYTHONDONTWRITEBYTECODE is set, Python would compile it again at every start), migrate, import
## data if there is none (WPP_SOURCE, else the embedded WPP2019 file: no network needed), serve and
## run the task worker (Procfile.dev; Ctrl-C stops both). With DEBUG on (.env) it listens on
## 127.0.0.1 only.
run: $(VENV)/.installed .env
	$(BIN)/python -m compileall -q forecasts popsite
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_wpp --if-empty $${WPP_SOURCE:+"$$WPP_SOURCE"}
	$(BIN)/python manage.py backtest --site --if-outdated
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python scripts/run_local.py

## env: write the local settings file .env (a generated SECRET_KEY, DEBUG=1) if there is none
env: .env
.env: | $(BIN)/python
	$(BIN)/python scripts/write_local_env.py $@

## worker: run only the task worker (imports, re-runs and prunes queued from the admin)
worker: $(VENV)/.installed .env
	$(BIN)/python manage.py db_worker

## data-official: download and import the current official WPP file (needs the internet)
data-official: $(VENV)/.installed .env
	$(BIN)/python manage.py import_wpp --official

## test: create .venv, install the dev requirements, run the whole suite (DATABASE_URL if set, else SQLite)
test: $(VENV)/.installed-dev
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/python manage.py collectstatic --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/python manage.py makemigrations --check --dry-run -v0
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/pytest $(PYTEST_ARGS)

## test-fast: the suite without the slow tests (browser, schemathesis, subprocesses, every region)
test-fast: $(VENV)/.installed-dev
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/python manage.py collectstatic --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

## check-deploy: Django's deployment checks with production settings (HTTPS on); fails on any warning
check-deploy: $(VENV)/.installed
	DEBUG=0 HTTPS=1 ALLOWED_HOSTS=$${ALLOWED_HOSTS:-forecasts.example.org} \
	SECRET_KEY=$${SECRET_KEY:-$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))")} \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

## check-reliability: killed and concurrent imports, PostgreSQL restart under gunicorn, 64-connection load,
## Redis killed under load (a private redis-server), a cheap request beside the heaviest forecasts
## (figures), downloads cut off half-way
## (PostgreSQL on 127.0.0.1, its own database RELIABILITY_DATABASE_URL; wrk; about 6 minutes)
check-reliability: $(VENV)/.installed
	$(BIN)/python benchmarks/reliability/check_imports.py
	$(BIN)/python benchmarks/reliability/check_outage.py
	$(BIN)/python benchmarks/reliability/check_load.py
	$(BIN)/python benchmarks/reliability/check_redis_outage.py
	$(BIN)/python benchmarks/reliability/check_heavy_load.py
	$(BIN)/python benchmarks/reliability/check_download.py

## check-api-contract: Schemathesis, every check, 200 examples per operation, against gunicorn on
## PostgreSQL (its own database API_CONTRACT_DATABASE_URL, default popforecasts_api; about 2 minutes)
check-api-contract: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/check_api_contract.py

## check-site-quality: axe-core (every page, 1366 and 390 px) and Lighthouse scores in one table,
## against the targets (needs Node.js/npm and /usr/bin/chromium; installs Lighthouse into .cache)
check-site-quality: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/check_site_quality.py

## bench-import / bench-http: print import time and memory; HTTP throughput side by side with the original
## app (its own virtualenv ORIGINAL_VENV, default /tmp/orig-venv: see benchmarks/bench_http.py), as ratios
bench-import: $(VENV)/.installed
	DATABASE_URL=$${RELIABILITY_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/popforecasts_reliability} \
	$(BIN)/python benchmarks/bench_import.py

bench-http: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_http.py --original-venv $${ORIGINAL_VENV:-/tmp/orig-venv}

## bench-accuracy: the default against levels/1, diff2/3 and the statsforecast peers in six backtest
## windows, with targets met/missed, and the batch timing (about a minute; the peers come from the
## cache of benchmarks/bench_peers.py, run in .venv-bench: see requirements-bench.txt)
bench-accuracy: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_accuracy.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
