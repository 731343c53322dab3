#!/bin/sh
# Background process (compose service "jobs"): wait until the api container has applied every migration,
# then run the Celery worker and Celery beat side by side.
#
#   start-jobs.sh          worker + beat (the default; exactly ONE container in a deployment may run beat)
#   start-jobs.sh worker   worker only (extra workers when scaling out)
#   start-jobs.sh beat     beat only
#
# Worker and beat are supervised by this script rather than honcho: honcho SIGKILLs its children 5 s after
# SIGTERM, which would cut the worker's warm shutdown (running workflows finish) short. Here SIGTERM/SIGINT are
# forwarded and the script waits for both; if either process dies on its own, the other is stopped and the
# script exits non-zero so the container's restart policy brings both back.
#
# MIGRATION_WAIT_RETRIES (default 60) x MIGRATION_WAIT_INTERVAL (default 5 s) bound the migration wait;
# CELERY_LOG_LEVEL (default info) sets both processes' log level. In worker mode WORKER_CONCURRENCY sets the number
# of pool processes (default: one per CPU) and CELERY_NODE_NAME the node name (default celery@<hostname>, which is
# unique per container and per pod; set it only when several workers share a host name).
set -eu

cd "$(dirname "$0")/.."

mode="${1:-all}"
retries="${MIGRATION_WAIT_RETRIES:-60}"
interval="${MIGRATION_WAIT_INTERVAL:-5}"
loglevel="${CELERY_LOG_LEVEL:-info}"

case "$mode" in
    all | worker | beat) ;;
    *)
        echo "start-jobs: unknown mode '$mode' (expected: worker, beat, or nothing for both)" >&2
        exit 2
        ;;
esac

attempt=1
until python manage.py migrate --check >/dev/null 2>&1; do
    if [ "$attempt" -ge "$retries" ]; then
        echo "start-jobs: migrations are still not applied after $retries checks; is the api service running?" >&2
        exit 1
    fi
    echo "start-jobs: waiting for migrations to be applied by the api service ($attempt/$retries)"
    attempt=$((attempt + 1))
    sleep "$interval"
done

if [ "$mode" = "worker" ]; then
    set -- celery -A bifrost_site worker -Q workflows,workspace,default --loglevel "$loglevel"
    if [ -n "${WORKER_CONCURRENCY:-}" ]; then
        set -- "$@" --concurrency "$WORKER_CONCURRENCY"
    fi
    if [ -n "${CELERY_NODE_NAME:-}" ]; then
        set -- "$@" --hostname "$CELERY_NODE_NAME"
    fi
    exec "$@"
fi
if [ "$mode" = "beat" ]; then
    exec celery -A bifrost_site beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel "$loglevel"
fi

celery -A bifrost_site worker -Q workflows,workspace,default --loglevel "$loglevel" &
worker_pid=$!
celery -A bifrost_site beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel "$loglevel" &
beat_pid=$!

stopping=0
# shellcheck disable=SC2317,SC2329  # invoked by the trap below
stop_children() {
    stopping=1
    kill -TERM "$worker_pid" "$beat_pid" 2>/dev/null || true
}
trap stop_children TERM INT

# Poll (a signal interrupts the short wait, so the trap runs at once) until either process has gone.
while kill -0 "$worker_pid" 2>/dev/null && kill -0 "$beat_pid" 2>/dev/null; do
    sleep 1 &
    wait "$!" || true
done

if [ "$stopping" = "0" ]; then
    echo "start-jobs: the celery worker or beat exited unexpectedly; stopping the other one" >&2
fi
kill -TERM "$worker_pid" "$beat_pid" 2>/dev/null || true
for pid in "$worker_pid" "$beat_pid"; do
    while kill -0 "$pid" 2>/dev/null; do
        wait "$pid" || true
    done
done

if [ "$stopping" = "1" ]; then
    exit 0
fi
exit 1
