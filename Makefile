# Flowdeck — `make run` serves the app, `make test` runs every test tier.
# Everything installs into .venv and frontend/node_modules; nothing is installed globally except,
# for `make test` on a machine without them, the Debian packages of Postgres, Redis and Chromium.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: run install install-dev frontend test test-fast test-browser bench lint migrations-check constraints clean \
        services-web services-worker services-beat

$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	npm --prefix frontend ci --no-audit --no-fund --loglevel=error
	touch $@

static/app/.vite/manifest.json: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	npm --prefix frontend run build --silent

frontend: static/app/.vite/manifest.json

## Serve the app on http://$(HOST):$(PORT) in the embedded mode (no outside services needed).
run: install frontend
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py load_demo
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

## Every tier: checks, engine, embedded, services (private Postgres/Redis if none is found), front end,
## and the browser tier (the built app in Debian's Chromium, installed when missing and root).
test: install-dev frontend/node_modules/.installed static/app/.vite/manifest.json
	$(PY) -m tests.runner all

## The browser tier alone: the built app in headless Chromium against a real embedded server.
test-browser: install-dev static/app/.vite/manifest.json
	$(PY) -m tests.runner browser

## Engine and API tests in the embedded mode only (under two minutes).
test-fast: install-dev
	$(PY) -m tests.runner fast

bench: install-dev static/app/.vite/manifest.json
	$(PY) -m tests.runner bench

lint: install-dev
	$(PY) -m tests.runner checks

## Refresh constraints.txt from the current virtualenv after changing a requirements file.
constraints: install-dev
	(echo '# Known-good versions, frozen from a tested install. Regenerate with `make constraints`.'; \
	 $(PY) -m pip freeze --disable-pip-version-check | grep -v '^-e') > constraints.txt

## Services mode, one process each (see README): web, worker, beat.
services-web: install frontend
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) config.asgi:application
services-worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-4}
services-beat: install
	$(VENV)/bin/celery -A config beat --loglevel=INFO

clean:
	rm -rf $(VENV) frontend/node_modules static/app
