#!/bin/sh
# Container entrypoint: wait until PostgreSQL and RabbitMQ accept TCP connections, then run the command.
#
# Hosts and ports come from DATABASE_URL and RABBITMQ_URL (a URL without a port uses 5432 / 5672, amqps 5671).
# Tunables (container-level, not Django settings):
#   WAIT_FOR_SERVICES=0   skip the wait entirely
#   WAIT_RETRIES=60       attempts per service
#   WAIT_INTERVAL=2       seconds between attempts
set -eu

if [ "${WAIT_FOR_SERVICES:-1}" != "0" ]; then
    python - <<'PY'
import os
import socket
import sys
import time
from urllib.parse import urlsplit

DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "pgsql": 5432, "amqp": 5672, "pyamqp": 5672, "amqps": 5671}

retries = int(os.environ.get("WAIT_RETRIES", "60"))
interval = float(os.environ.get("WAIT_INTERVAL", "2"))


def target(variable):
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    # Celery accepts several broker URLs separated by ";": the first one is the primary.
    url = urlsplit(raw.split(";")[0].strip())
    scheme = url.scheme.split("+")[0].lower()
    try:
        port = url.port
    except ValueError:
        sys.exit(f"entrypoint: {variable} has an invalid port")
    host = url.hostname
    if not host:
        # e.g. postgres:///bifrost (unix socket): nothing to wait for over TCP.
        return None
    return host, port or DEFAULT_PORTS.get(scheme, 0)


for variable, service in (("DATABASE_URL", "PostgreSQL"), ("RABBITMQ_URL", "RabbitMQ")):
    hostport = target(variable)
    if hostport is None:
        print(f"entrypoint: {variable} has no TCP host, not waiting for {service}", flush=True)
        continue
    host, port = hostport
    if not port:
        sys.exit(f"entrypoint: cannot tell the port of {service} from {variable}")
    for attempt in range(1, retries + 1):
        try:
            with socket.create_connection((host, port), timeout=3):
                print(f"entrypoint: {service} is reachable at {host}:{port}", flush=True)
                break
        except OSError as exc:
            print(f"entrypoint: waiting for {service} at {host}:{port} ({attempt}/{retries}): {exc}", flush=True)
            if attempt < retries:
                time.sleep(interval)
    else:
        sys.exit(f"entrypoint: {service} at {host}:{port} ({variable}) is still unreachable after {retries} attempts; giving up")
PY
fi

exec "$@"
