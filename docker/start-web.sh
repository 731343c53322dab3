#!/bin/sh
# Web process (compose service "api"/"ws", Kubernetes Deployments api/ws): apply migrations, register periodic tasks
# and the workflow registry, then start the web server(s) that WEB_SERVER names:
#
#   WEB_SERVER=daphne   (the default) replace this shell with daphne: HTTP + WebSocket on WEB_PORT (default 8000).
#                       Production runs it as the WebSocket-only "ws" service behind the proxy.
#   WEB_SERVER=granian  replace this shell with granian (WSGI, HTTP only) on WEB_PORT (default 8000): production's
#                       "api" service, behind a proxy that sends /ws/ elsewhere.
#   WEB_SERVER=split    granian (WSGI) serves HTTP on WEB_PORT (default 8000) and daphne serves the WebSockets on
#                       WS_PORT (default 8001) in one container. Needs a reverse proxy in front that sends /ws/ to
#                       daphne and everything else to granian (docs/deployment.md; docs/performance.md, "Which
#                       server for HTTP").
#
# granian: WEB_WORKERS (default 2) worker processes with WEB_THREADS (default 8) threads each; a worker that dies is
# started again. With ENVIRONMENT=production Django takes the scheme from the proxy's X-Forwarded-Proto
# (SECURE_PROXY_SSL_HEADER). In split mode both servers are children of this script, supervised like worker + beat in
# start-jobs.sh: SIGTERM/SIGINT are forwarded to both (as SIGTERM) and the script waits for both; if either dies on
# its own, the other is stopped and the script exits with the dead one's status (1 if that was 0), so the
# container's restart policy brings both back.
#
# Overload (issue 18, item 18: a client gets an answer, never a refused or reset connection):
#   WEB_BACKLOG (default 2048)       the listen backlog of both servers: connections the kernel holds until the
#                                    server accepts them (capped by net.core.somaxconn, 4096 on current kernels;
#                                    daphne's own default was 50, granian's 1024).
#   WEB_BACKPRESSURE (default: WEB_BACKLOG) granian: connections each worker process serves at once. A keep-alive
#                                    connection holds its slot for as long as it stays open, so this must exceed the
#                                    clients (or proxy connections) a process can have: at 32, 200 keep-alive
#                                    clients left 168 of them unserved until their 60 s timeout (docs/faults.md).
#                                    Requests beyond the WEB_THREADS threads queue inside granian; shedding excess
#                                    load with an answer is the proxy's job: deploy/Caddyfile answers 503 +
#                                    Retry-After when no upstream has room (UPSTREAM_MAX_REQUESTS in flight).
#
# WEB_HOST (default 0.0.0.0) is the address both servers listen on (127.0.0.1 for a proxy on the same host).
#
# RUN_MIGRATIONS=0 skips the migrate step (when several web containers start at once, let one of them migrate, or
# the one-shot migrate service: docker/migrate.sh). RUN_SETUP=0 also skips setup_periodic_tasks, ensure_dev_user and
# discover_workflows (the migrate service ran them).
set -eu

cd "$(dirname "$0")/.."

server="${WEB_SERVER:-daphne}"

case "$server" in
    daphne | granian | split) ;;
    *)
        echo "start-web: unknown WEB_SERVER '$server' (expected: daphne, granian, or split for granian + daphne)" >&2
        exit 2
        ;;
esac

if [ "${RUN_MIGRATIONS:-1}" != "0" ]; then
    python manage.py migrate --noinput
fi
if [ "${RUN_SETUP:-1}" != "0" ]; then
    python manage.py setup_periodic_tasks

    if [ "${ENVIRONMENT:-development}" = "development" ]; then
        python manage.py ensure_dev_user
    fi

    # A broken workflow file in the workspace must not keep the API down: discovery records import errors itself.
    python manage.py discover_workflows || echo "start-web: discover_workflows failed; the API starts anyway" >&2
fi

host="${WEB_HOST:-0.0.0.0}"
backlog="${WEB_BACKLOG:-2048}"
backpressure="${WEB_BACKPRESSURE:-$backlog}"

if [ "$server" = "daphne" ]; then
    # daphne has no backlog flag; its Twisted endpoint string takes one.
    exec daphne -e "tcp:port=${WEB_PORT:-8000}:interface=$host:backlog=$backlog" --proxy-headers \
        bifrost_site.asgi:application
fi
if [ "$server" = "granian" ]; then
    exec granian --interface wsgi --host "$host" --port "${WEB_PORT:-8000}" --workers "${WEB_WORKERS:-2}" \
        --blocking-threads "${WEB_THREADS:-8}" --backlog "$backlog" --backpressure "$backpressure" \
        --respawn-failed-workers bifrost_site.wsgi:application
fi

# A signal that arrives before both process ids are known is remembered and acted on just below.
stopping=0
trap 'stopping=1' TERM INT

granian --interface wsgi --host "$host" --port "${WEB_PORT:-8000}" --workers "${WEB_WORKERS:-2}" \
    --blocking-threads "${WEB_THREADS:-8}" --backlog "$backlog" --backpressure "$backpressure" \
    --respawn-failed-workers bifrost_site.wsgi:application &
http_pid=$!
daphne -e "tcp:port=${WS_PORT:-8001}:interface=$host:backlog=$backlog" --proxy-headers \
    bifrost_site.asgi:application &
daphne_pid=$!

# shellcheck disable=SC2317,SC2329  # invoked by the trap below
stop_children() {
    stopping=1
    kill -TERM "$http_pid" "$daphne_pid" 2>/dev/null || true
}
trap stop_children TERM INT
if [ "$stopping" = "1" ]; then
    stop_children
fi

# Poll (a signal interrupts the short wait, so the trap runs at once) until either process has gone.
while kill -0 "$http_pid" 2>/dev/null && kill -0 "$daphne_pid" 2>/dev/null; do
    sleep 1 &
    wait "$!" || true
done

status=0
if [ "$stopping" = "0" ]; then
    if kill -0 "$http_pid" 2>/dev/null; then
        dead=daphne
        dead_pid=$daphne_pid
    else
        dead=granian
        dead_pid=$http_pid
    fi
    # The shell has reaped it already and keeps its status for this wait.
    wait "$dead_pid" || status=$?
    echo "start-web: $dead exited unexpectedly (status $status); stopping the other one" >&2
    if [ "$status" = "0" ]; then
        status=1
    fi
fi
kill -TERM "$http_pid" "$daphne_pid" 2>/dev/null || true
for pid in "$http_pid" "$daphne_pid"; do
    while kill -0 "$pid" 2>/dev/null; do
        wait "$pid" || true
    done
done

exit "$status"
