#!/bin/sh
# One-shot setup before any web or Celery process starts (compose.production.yml's "migrate" service, the
# Kubernetes migration Job): apply the migrations, register the periodic tasks and the workflow registry, exit.
# Everything else (api, ws, worker, beat) starts only after this exited 0, so migrations run exactly once per
# release. Idempotent: running it again on an up-to-date database changes nothing.
set -eu

cd "$(dirname "$0")/.."

python manage.py migrate --noinput
python manage.py setup_periodic_tasks
# A broken workflow file in the workspace must not fail the release: discovery records import errors itself.
python manage.py discover_workflows || echo "migrate: discover_workflows failed; continuing" >&2
