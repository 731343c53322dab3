# Bifrost: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MANAGE := $(PY) manage.py

.PHONY: run test test-fast venv venv-dev services services-check migrate lint audit-deps migrations-check schema schema-check deploy-check pytest bench bench-quick faults faults-quick clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(VENV)/bin/activate
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/bin/activate
	$(PIP) install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

services:
	$(PYTHON) scripts/services.py ensure

services-check:
	@$(PYTHON) scripts/services.py check

migrate: venv
	$(MANAGE) ensure_database
	$(MANAGE) migrate --noinput

## run: virtualenv, migrate, seed the dev admin, then web (:8000) + worker + beat. Ctrl-C stops all three.
run: venv services-check migrate
	$(MANAGE) ensure_dev_user
	$(MANAGE) setup_periodic_tasks
	@echo "Bifrost: http://127.0.0.1:8000  (admin /admin/, API docs /docs, health /health)"
	$(VENV)/bin/honcho start -f Procfile

lint: venv-dev
	$(VENV)/bin/ruff check .

## audit-deps: known vulnerabilities in the pinned requirements.txt (pip-audit on PyPI's advisory data).
## Fails when a vulnerability is not explained in .pip-audit-ignore, or when a package could not be
## audited. Offline: SKIP_DEP_AUDIT=1 make test skips it with a warning (docs/security.md).
audit-deps: venv-dev
	$(PY) scripts/audit_deps.py

migrations-check: venv-dev
	$(MANAGE) makemigrations --check --dry-run

## schema: regenerate the committed OpenAPI document after an intended API change.
schema: venv-dev
	ENVIRONMENT=testing DEV_AUTH_BYPASS=false $(MANAGE) spectacular --validate --fail-on-warn --file docs/api/openapi.yaml

schema-check: venv-dev
	@ENVIRONMENT=testing DEV_AUTH_BYPASS=false $(MANAGE) spectacular --validate --fail-on-warn --file /tmp/bifrost-openapi-$$$$.yaml && \
	  if diff -u docs/api/openapi.yaml /tmp/bifrost-openapi-$$$$.yaml; then echo "OpenAPI schema matches docs/api/openapi.yaml"; \
	  else echo "The API changed: review and run 'make schema' to update docs/api/openapi.yaml" >&2; exit 1; fi

## deploy-check: offline validation of deploy/ (Caddyfile, both compose files, Kubernetes manifests) and .github/.
deploy-check: venv-dev
	$(PY) scripts/validate_deploy.py

pytest: venv-dev
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

## test: everything CI runs: services up, ruff (with the S and SLF rules), dependency audit, migrations check,
## OpenAPI diff, deployment checks, then the whole suite with line coverage held at its floor (pyproject.toml).
test: venv-dev
	$(PYTHON) scripts/services.py ensure
	bash scripts/system_packages.sh
	$(MAKE) --no-print-directory lint audit-deps migrations-check schema-check deploy-check
	$(VENV)/bin/pytest -q --cov --cov-report= --durations=25 $(PYTEST_ARGS)

## test-fast: the inner loop: no real-worker, browser or slow tests, no coverage.
test-fast: venv-dev
	$(VENV)/bin/pytest -q -m "not slow and not worker and not browser" $(PYTEST_ARGS)

bench: venv-dev
	$(PY) bench/run.py $(BENCH_ARGS)

bench-quick: venv-dev
	$(PY) bench/run.py --quick $(BENCH_ARGS)

## faults: fault scenarios (issue 9) on PRIVATE PostgreSQL/Redis/RabbitMQ instances; minutes; not part of `make test`.
## One scenario: make faults FAULTS_ARGS="--scenario rabbitmq". See docs/faults.md.
faults: venv-dev
	$(PY) bench/faults/run.py $(FAULTS_ARGS)

faults-quick: venv-dev
	$(PY) bench/faults/run.py --quick $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
