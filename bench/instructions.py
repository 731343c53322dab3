"""Instructions per execute request in the web process, counted by valgrind.

The method: docs/performance-history.md, sections 9 and 10.

    python bench/instructions.py            # async no-op execute, the web-process figure
    python bench/instructions.py --path /api/executions --method GET
    python bench/instructions.py --worker   # one run of the no-op workflow in a worker process

Wall time and /proc CPU on a shared VM move with the host's load; the number of instructions a request
executes does not. This runs Django's WSGI handler in-process (real user, PostgreSQL and RabbitMQ, the
benchmark's database and its own queue prefix) under cachegrind twice, with FEW and MANY requests after the
same warm-up, and prints (Ir(MANY) - Ir(FEW)) / (MANY - FEW): start-up and warm-up cancel out. Repeated runs
agree within about 1%. It counts user-space instructions only: not the kernel, not PostgreSQL or RabbitMQ.
`--worker` counts what a prefork child runs per message instead: the run task's Celery tracer on a Pending
row (claim, load the module, run, finish, broadcast check), with every row inserted before the count starts.
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
import uuid
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
    # as bench/run.py: the per-user run throttle and admission's organization limit must not refuse or hold runs
    "RUN_RATE_PER_USER": "1000000/min",
    "ORG_MAX_CONCURRENT_RUNS": "100000",
}


def _setup_django() -> None:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def serve(method: str, path: str, body: bytes, warm: int, count: int) -> None:
    """The child: warm up, then send `count` requests to Django's handler and remove the queued tasks."""
    _setup_django()
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


RUN_ROWS = 250  # inserted by every --worker child, whatever its count, so the inserts cancel out


def serve_runs(warm: int, count: int) -> None:
    """The --worker child: insert RUN_ROWS Pending executions, then run warm + count of them through the
    run task's tracer, as a prefork child does with each message."""
    _setup_django()
    from celery.app.trace import build_tracer

    from bifrost_site.celery import app
    from executions.models import Execution, ExecutionStatus, Trigger
    from executions.tasks import run_execution_task

    if warm + count > RUN_ROWS:
        raise SystemExit(f"--warm + count must be at most {RUN_ROWS}")
    task = run_execution_task._get_current_object()
    trace = build_tracer(task.name, task, app=app)
    rows = Execution.objects.bulk_create(
        Execution(
            workflow_name="bench_noop_async",
            status=ExecutionStatus.PENDING,
            parameters={},
            celery_task_id=str(uuid.uuid4()),
            trigger=Trigger.MANUAL,
            executed_by_name="bench",
        )
        for _ in range(RUN_ROWS)
    )
    for row in rows[: warm + count]:
        request = {"id": row.celery_task_id, "delivery_info": {}, "is_eager": False, "called_directly": False}
        trace(row.celery_task_id, [str(row.id)], {}, request)
    done = Execution.objects.filter(id__in=[row.id for row in rows[: warm + count]], status=ExecutionStatus.SUCCESS)
    if done.count() != warm + count:
        raise SystemExit("not every run ended Success: is the bench workspace discovered? (make bench prepares it)")


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
    parser.add_argument("--worker", action="store_true", help="count one workflow run in a worker process")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        if args.worker:
            serve_runs(args.warm, args.serve)
        else:
            serve(args.method, args.path, args.body.encode(), args.warm, args.serve)
        return 0
    passed = ["--method", args.method, "--path", args.path, "--body", args.body, "--warm", str(args.warm)]
    passed += ["--worker"] if args.worker else []
    few, many = instructions(passed, args.few), instructions(passed, args.many)
    per_item = (many - few) / (args.many - args.few)
    if args.worker:
        print(f"run of bench_noop_async: {per_item / 1e6:.3f} M instructions per run (worker process, user space)")
    else:
        print(f"{args.method} {args.path}: {per_item / 1e6:.3f} M instructions per request (web process, user space)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
