"""Instructions per execute request in the web process, counted by valgrind (docs/performance.md §9).

    python bench/instructions.py            # async no-op execute, the figure of §9
    python bench/instructions.py --path /api/executions --method GET

Wall time and /proc CPU on a shared VM move with the host's load; the number of instructions a request
executes does not. This runs Django's WSGI handler in-process (real user, PostgreSQL and RabbitMQ, the
benchmark's database and its own queue prefix) under cachegrind twice, with FEW and MANY requests after the
same warm-up, and prints (Ir(MANY) - Ir(FEW)) / (MANY - FEW): start-up and warm-up cancel out. Repeated runs
agree within about 1%. It counts user-space instructions only: not the kernel, not PostgreSQL or RabbitMQ.
Needs `valgrind` (Debian package) and the benchmark database (`make bench` prepares it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "bench-instructions"
ENV = {
    "DJANGO_SETTINGS_MODULE": "bifrost_site.settings",
    "ENVIRONMENT": "testing",
    "DEBUG": "false",
    "DEV_AUTH_BYPASS": "false",
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@localhost:5432/bifrost_bench"),
    "QUEUE_PREFIX": f"{PREFIX}.",
    "REDIS_KEY_PREFIX": PREFIX,
    "WORKSPACE_PATH": str(ROOT / "bench" / "workspace"),
    "WORKSPACE_WATCH": "false",
    "LOG_LEVEL": "WARNING",
    "PYTHONWARNINGS": "ignore",
}


def serve(method: str, path: str, body: bytes, warm: int, count: int) -> None:
    """The child: warm up, then send `count` requests to Django's handler and remove the queued tasks."""
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application

    from accounts.services import tokens_issue
    from bench.run import ADMIN_EMAIL
    from bifrost_site import queues
    from bifrost_site.celery import app as celery_app

    handler = get_wsgi_application()
    token = tokens_issue(user=get_user_model().objects.get(email=ADMIN_EMAIL)).access_token
    statuses: list[str] = []

    def request() -> None:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
        }
        response = handler(environ, lambda status, headers, *rest: statuses.append(status))
        b"".join(response)
        response.close()

    try:
        for _ in range(warm + count):
            request()
    finally:
        with celery_app.connection_for_write() as connection:
            queues.delete_topology(connection, ENV["QUEUE_PREFIX"])
    if not statuses[-1].startswith("2"):
        raise SystemExit(f"{method} {path} answered {statuses[-1]}")


def instructions(argv: list[str], count: int) -> int:
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        *argv,
        "--serve",
        str(count),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"valgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--path", default="/api/workflows/bench_noop_async/execute")
    parser.add_argument("--body", default=json.dumps({"parameters": {}}))
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--few", type=int, default=15)
    parser.add_argument("--many", type=int, default=195)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.method, args.path, args.body.encode(), args.warm, args.serve)
        return 0
    passed = ["--method", args.method, "--path", args.path, "--body", args.body, "--warm", str(args.warm)]
    few, many = instructions(passed, args.few), instructions(passed, args.many)
    per_request = (many - few) / (args.many - args.few)
    print(f"{args.method} {args.path}: {per_request / 1e6:.3f} M instructions per request (web process, user space)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
