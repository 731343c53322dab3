#!/bin/sh
# Web process (compose service "api"): apply migrations, register periodic tasks and the workflow registry,
# then replace this shell with daphne (HTTP + WebSocket on :8000).
#
# RUN_MIGRATIONS=0 skips the migrate step (when several web containers start at once, let one of them migrate).
set -eu

cd "$(dirname "$0")/.."

if [ "${RUN_MIGRATIONS:-1}" != "0" ]; then
    python manage.py migrate --noinput
fi
python manage.py setup_periodic_tasks

if [ "${ENVIRONMENT:-development}" = "development" ]; then
    python manage.py ensure_dev_user
fi

# A broken workflow file in the workspace must not keep the API down: discovery records import errors itself.
python manage.py discover_workflows || echo "start-web: discover_workflows failed; the API starts anyway" >&2

exec daphne -b 0.0.0.0 -p 8000 --proxy-headers bifrost_site.asgi:application
