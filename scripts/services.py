#!/usr/bin/env python3
"""Check (and optionally start) the local services Bifrost needs: PostgreSQL, RabbitMQ, Redis.

    python3 scripts/services.py check   # say which service is unreachable and how to start it
    python3 scripts/services.py ensure  # start any local service that is down (needs root), then wait

Standard library only: it runs before the virtualenv exists.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit


def _endpoint(env_name: str, default: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(os.environ.get(env_name, default))
    return parts.hostname or "localhost", parts.port or default_port


def _pg_start() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else ["15"]
    return f"pg_ctlcluster --skip-systemctl-redirect {versions[-1]} main start"


SERVICES = [
    ("PostgreSQL", *_endpoint("DATABASE_URL", "postgres://postgres@localhost:5432/bifrost", 5432), _pg_start),
    (
        "RabbitMQ",
        *_endpoint("RABBITMQ_URL", "amqp://guest:guest@localhost:5672//", 5672),
        lambda: "rabbitmq-server -detached",
    ),
    (
        "Redis",
        *_endpoint("REDIS_URL", "redis://localhost:6379/0", 6379),
        lambda: (
            'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
            "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
        ),
    ),
]


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def check() -> int:
    down = [(name, host, port, start) for name, host, port, start in SERVICES if not reachable(host, port)]
    for name, host, port, start in down:
        print(f"✗ {name} is not reachable at {host}:{port}. Start it with:\n    {start()}", file=sys.stderr)
    if down:
        print("Or run `make services` (as root) to start every local service that is down.", file=sys.stderr)
        return 1
    print("✓ PostgreSQL, RabbitMQ and Redis are reachable.")
    return 0


def ensure(wait_seconds: int = 90) -> int:
    for name, host, port, start in SERVICES:
        if reachable(host, port):
            continue
        if not is_local(host):
            print(f"✗ {name} at {host}:{port} is down and is not local; start it there.", file=sys.stderr)
            return 1
        command = start()
        if name == "Redis":
            os.makedirs("/var/lib/redis", exist_ok=True)
            os.makedirs("/var/log/redis", exist_ok=True)
        if shutil.which(command.split()[0]) is None:
            print(f"✗ {name} is down and `{command.split()[0]}` is not installed.", file=sys.stderr)
            return 1
        print(f"… starting {name}: {command}")
        subprocess.run(command, shell=True, check=False)  # noqa: S602 - fixed commands from this file
    deadline = time.monotonic() + wait_seconds
    for name, host, port, _ in SERVICES:
        while not reachable(host, port):
            if time.monotonic() > deadline:
                print(f"✗ {name} did not come up at {host}:{port}.", file=sys.stderr)
                return 1
            time.sleep(1)
    return check()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "check"
    sys.exit(ensure() if mode == "ensure" else check())
