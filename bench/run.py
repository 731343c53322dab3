#!/usr/bin/env python
"""Bifrost benchmarks against the performance budget of DESIGN §13.

    python bench/run.py            # full mode
    python bench/run.py --quick    # smoke mode, under a minute
    python bench/run.py --only raw,sync,async,logs,executions,workflows,memory [--web gunicorn]

Everything runs on this machine's PostgreSQL, RabbitMQ and Redis, on a database of its own
(`bifrost_bench`), its own queue names and Redis prefix, with a real web server (daphne or gunicorn)
and real Celery worker processes started as subprocesses. The raw-Celery baseline (a no-op task round
trip and throughput on the same broker and backend) is measured in the same run, and each figure
is printed beside its budget and the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RUN_ID = uuid.uuid4().hex[:8]
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@localhost:5432/bifrost_bench")
ADMIN_EMAIL = "bench@bifrost.local"
ADMIN_PASSWORD = "bench-password-not-secret"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bifrost_site.settings",
    "ENVIRONMENT": "testing",
    "DEBUG": "false",
    "DEV_AUTH_BYPASS": "false",
    "DATABASE_URL": BENCH_DB,
    "QUEUE_PREFIX": f"bench-{RUN_ID}.",
    "REDIS_KEY_PREFIX": f"bench-{RUN_ID}",
    "WORKSPACE_PATH": str(ROOT / "bench" / "workspace"),
    "WORKSPACE_WATCH": "false",
    "LOG_LEVEL": "WARNING",
    "LOGIN_THROTTLE_RATE": "100000/min",
    "PYTHONPATH": str(ROOT),
}


@dataclass
class Row:
    scenario: str
    figure: str
    budget: str = ""
    baseline: str = ""
    ratio: str = ""
    ok: bool | None = None
    notes: list[str] = field(default_factory=list)


ROWS: list[Row] = []


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=ENV, check=check, capture_output=True, text=True)


def setup_django() -> None:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_database() -> None:
    manage("ensure_database")
    manage("migrate", "--noinput")
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    if not user_model.objects.filter(email=ADMIN_EMAIL).exists():
        user_model.objects.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)
    discover = manage("discover_workflows", check=False)
    if discover.returncode != 0:
        print(f"  (discover_workflows unavailable: {discover.stderr.strip().splitlines()[-1:]})")


# --- processes -----------------------------------------------------------------------------------


class Process:
    def __init__(self, name: str, argv: list[str]):
        self.name = name
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bifrost-bench-{RUN_ID}-{name}.log"  # noqa: S108
        self.log = open(log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=ENV, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def rss_mb(self) -> dict[str, float]:
        import psutil

        parent = psutil.Process(self.proc.pid)
        procs = [parent, *parent.children(recursive=True)]
        return {
            f"{p.pid}:{' '.join(p.cmdline()[1:3])[:40]}": p.memory_info().rss / 1e6 for p in procs if p.is_running()
        }


def worker_queues() -> str:
    from bifrost_site import queues

    return ",".join(queues.queue_name(q) for q in queues.QUEUE_NAMES)


@contextmanager
def celery_worker(concurrency: int):
    proc = Process(
        f"worker{concurrency}",
        [
            PY, "-m", "celery", "-A", "bifrost_site", "worker", "-P", "prefork", "-c", str(concurrency),
            "-n", f"bench-{RUN_ID}-{concurrency}@%h",
            "-Q", worker_queues(), "--without-mingle", "--without-gossip", "-l", "WARNING",
        ],
    )  # fmt: skip
    try:
        from bifrost_site.tasks import ping_task

        deadline = time.monotonic() + 60
        while True:
            try:
                ping_task.apply_async(args=["ready"]).get(timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline or proc.proc.poll() is not None:
                    raise RuntimeError(f"worker did not start; see {proc.log.name}") from None
        yield proc
    finally:
        proc.stop()


@contextmanager
def web_server(kind: str = "daphne"):
    port = free_port()
    if kind == "gunicorn":
        argv = [
            PY,
            "-m",
            "gunicorn",
            "bifrost_site.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--threads",
            "4",
        ]
    else:
        argv = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bifrost_site.asgi:application"]
    proc = Process(f"web-{kind}", argv)
    import requests

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/health/live", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or proc.proc.poll() is not None:
            proc.stop()
            raise RuntimeError(f"web server did not start; see {proc.log.name}")
        time.sleep(0.2)
    try:
        yield base, proc
    finally:
        proc.stop()


def api_session(base: str):
    import requests

    session = requests.Session()
    response = session.post(
        f"{base}/auth/login", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    )
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    session.access_token = response.json()["access_token"]
    return session


# --- scenarios -----------------------------------------------------------------------------------


@dataclass
class Baseline:
    roundtrip_p50: float = float("nan")
    roundtrip_p99: float = float("nan")
    throughput: float = float("nan")


BASELINE = Baseline()


def scenario_raw_celery(quick: bool) -> None:
    from bifrost_site.tasks import ping_task

    n = 200 if quick else 1000
    with celery_worker(2):
        for _ in range(20):
            ping_task.delay().get(timeout=10)
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            ping_task.delay().get(timeout=10)
            samples.append(time.perf_counter() - start)
        BASELINE.roundtrip_p50 = percentile(samples, 50)
        BASELINE.roundtrip_p99 = percentile(samples, 99)
        ROWS.append(
            Row("raw celery no-op round trip", f"p50 {ms(BASELINE.roundtrip_p50)}, p99 {ms(BASELINE.roundtrip_p99)}")
        )

        total = 1000 if quick else 5000
        start = time.perf_counter()
        results = [ping_task.delay() for _ in range(total)]
        for result in results:
            result.get(timeout=60)
        BASELINE.throughput = total / (time.perf_counter() - start)
        ROWS.append(Row("raw celery no-op throughput (2 procs)", f"{BASELINE.throughput:.0f} tasks/s"))


def scenario_sync_execute(quick: bool, web: str) -> None:
    n = 200 if quick else 1000
    with celery_worker(2), web_server(web) as (base, _):
        session = api_session(base)
        url = f"{base}/api/workflows/bench_noop_sync/execute"
        probe = session.post(url, json={"parameters": {}}, timeout=30)
        if probe.status_code != 200:
            ROWS.append(
                Row(f"sync no-op execute ({web})", f"n/a: HTTP {probe.status_code} {probe.text[:120]}", ok=False)
            )
            return
        for _ in range(20):
            session.post(url, json={"parameters": {}}, timeout=30)
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            response = session.post(url, json={"parameters": {}}, timeout=30)
            samples.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"sync execute failed: {response.status_code} {response.text[:200]}")
        p50, p90, p99 = (percentile(samples, p) for p in (50, 90, 99))
        ROWS.append(
            Row(
                f"sync no-op execute over HTTP ({web})",
                f"p50 {ms(p50)}, p90 {ms(p90)}, p99 {ms(p99)}",
                budget="p50 ≤ 8 ms, p99 ≤ 25 ms",
                baseline=f"p50 {ms(BASELINE.roundtrip_p50)}",
                ratio=ratio(p50, BASELINE.roundtrip_p50),
                ok=p50 <= 0.008 and p99 <= 0.025,
            )
        )


def _wait_all_finished(ids: list[str], timeout: float) -> float:
    from executions.models import FINISHED_STATUSES, Execution

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = Execution.objects.filter(id__in=ids, status__in=FINISHED_STATUSES).count()
        if done == len(ids):
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"only {done}/{len(ids)} executions finished in {timeout}s")


def scenario_async_throughput(quick: bool, web: str) -> None:
    from executions.models import Execution

    n = 300 if quick else 2000
    for workers in (2, 1):
        with celery_worker(workers), web_server(web) as (base, _):
            session = api_session(base)
            url = f"{base}/api/workflows/bench_noop_async/execute"
            probe = session.post(url, json={"parameters": {}}, timeout=30)
            if probe.status_code != 202:
                ROWS.append(
                    Row(f"async no-op executions ({workers} procs)", f"n/a: HTTP {probe.status_code}", ok=False)
                )
                return
            ids: list[str] = []
            lock = threading.Lock()

            def submit(count: int, url=url, ids=ids, lock=lock) -> None:
                local = api_session(base)
                for _ in range(count):
                    response = local.post(url, json={"parameters": {}}, timeout=30)
                    with lock:
                        ids.append(response.json()["execution_id"])

            start = time.perf_counter()
            threads = [threading.Thread(target=submit, args=(n // 4,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            end = _wait_all_finished(ids, timeout=300)
            rate = len(ids) / (end - start)
            succeeded = Execution.objects.filter(id__in=ids, status="Success").count()
            ROWS.append(
                Row(
                    f"async no-op executions, submit → Success ({workers} procs)",
                    f"{rate:.0f} executions/s ({succeeded}/{len(ids)} Success)",
                    budget="≥ 250/s" if workers == 2 else "",
                    baseline=f"{BASELINE.throughput:.0f} tasks/s",
                    ratio=ratio(rate, BASELINE.throughput),
                    ok=(rate >= 250 and succeeded == len(ids)) if workers == 2 else succeeded == len(ids),
                )
            )


def scenario_log_lines(quick: bool, web: str) -> None:
    import websocket

    lines = 2000 if quick else 10000
    with celery_worker(2), web_server(web if web == "daphne" else "daphne") as (base, _):
        session = api_session(base)
        response = session.post(
            f"{base}/api/workflows/bench_log_lines/execute", json={"parameters": {"lines": lines}}, timeout=30
        )
        start = time.perf_counter()
        if response.status_code not in (200, 202):
            ROWS.append(Row("10,000-line log to WebSocket", f"n/a: HTTP {response.status_code}", ok=False))
            return
        execution_id = response.json()["execution_id"]
        ws_url = base.replace("http://", "ws://") + f"/ws/executions/{execution_id}/?token={session.access_token}"
        ws = websocket.create_connection(ws_url, timeout=30, origin=base)
        seen: set[int] = set()
        latencies: list[float] = []
        last_line_at = None
        complete = False
        try:
            while not (complete and len(seen) >= lines):
                message = json.loads(ws.recv())
                now = time.perf_counter()
                if message.get("type") == "log":
                    seen.add(message["sequence"])
                    last_line_at = now
                    stamp = message.get("timestamp")
                    if stamp:
                        from datetime import datetime

                        sent = datetime.fromisoformat(stamp).timestamp()
                        latencies.append(max(0.0, time.time() - sent))
                elif message.get("type") == "status" and message.get("is_complete"):
                    complete = True
                if now - start > 60:
                    break
        finally:
            ws.close()
        total = (last_line_at or time.perf_counter()) - start
        lost = max(0, lines - len([s for s in seen if s]))  # the workflow also logs start/end lines
        ROWS.append(
            Row(
                f"{lines:,}-line log delivered over WebSocket",
                f"{total:.2f} s to last line, {len(seen) / total:.0f} lines/s, lost {lost}, "
                f"p99 line latency {ms(percentile(latencies, 99))}",
                budget="10,000 lines ≤ 2 s, none lost",
                ok=total <= 2.0 and lost == 0 if lines == 10000 else lost == 0,
            )
        )


def seed_executions(target: int) -> None:
    from django.db import connection

    from executions.models import Execution

    have = Execution.objects.count()
    if have >= target:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO executions_execution (id, workflow_name, trigger, executed_by_name, status, parameters,
                result, result_type, error_message, error_type, variables, started_at, completed_at, duration_ms,
                celery_task_id, attempt, created_at, updated_at)
            SELECT gen_random_uuid(), 'bench_noop_async', 'manual', 'bench', 'Success', '{}'::jsonb, NULL, 'none',
                '', '', NULL, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 3, '', 1,
                now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
            FROM generate_series(1, %s) AS g
            """,
            [target - have],
        )
        cursor.execute("ANALYZE executions_execution")


def seed_workflows(target: int) -> None:
    from workflows.models import Workflow

    have = Workflow.objects.filter(name__startswith="seeded_").count()
    Workflow.objects.bulk_create(
        [
            Workflow(name=f"seeded_{i:05d}", description="seeded", parameters=[{"name": "x", "type": "string"}])
            for i in range(have, target)
        ],
        batch_size=1000,
    )


def measure_get(session, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")
    return samples


def queries_for(path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.models import User
    from accounts.services import tokens_issue

    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=User.objects.get(email=ADMIN_EMAIL)).access_token}"
    )
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, HTTP_HOST="127.0.0.1")
    if response.status_code != 200:
        return -1
    return len(captured)


def scenario_lists(quick: bool, web: str, which: str) -> None:
    n = 100 if quick else 500
    if which == "executions":
        seed_executions(100_000)
        path, budget, name = (
            "/api/executions?limit=50",
            "p50 ≤ 15 ms, constant queries",
            "GET /api/executions (100k rows)",
        )
    else:
        seed_workflows(1000)
        path, budget, name = "/api/workflows", "p50 ≤ 15 ms", "GET /api/workflows (1,000 workflows)"
    with web_server(web) as (base, _):
        session = api_session(base)
        probe = session.get(base + path, timeout=30)
        if probe.status_code != 200:
            ROWS.append(Row(f"{name} ({web})", f"n/a: HTTP {probe.status_code}", ok=False))
            return
        measure_get(session, base + path, 10)
        samples = measure_get(session, base + path, n)
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    queries = queries_for(path)
    ROWS.append(
        Row(
            f"{name} ({web})",
            f"p50 {ms(p50)}, p99 {ms(p99)}, {queries} queries/request",
            budget=budget,
            ok=p50 <= 0.015,
        )
    )


def scenario_memory(quick: bool, web: str) -> None:
    import requests

    n = 200 if quick else 1000
    with celery_worker(2) as worker, web_server("daphne") as (base, web_proc):
        time.sleep(2)
        idle_worker = worker.rss_mb()
        idle_web = web_proc.rss_mb()
        session = api_session(base)
        url = f"{base}/api/workflows/bench_noop_async/execute"
        ids = []
        for _ in range(n):
            response = session.post(url, json={"parameters": {}}, timeout=30)
            if response.status_code != 202:
                break
            ids.append(response.json()["execution_id"])
        if ids:
            _wait_all_finished(ids, timeout=300)
        after = worker.rss_mb()
        del requests
    worker_children = list(idle_worker.values())
    ROWS.append(
        Row(
            "memory: idle web process (daphne)",
            f"{max(idle_web.values()):.0f} MB RSS",
            budget="≤ 120 MB",
            ok=max(idle_web.values()) <= 120,
        )
    )
    ROWS.append(
        Row(
            "memory: idle worker processes",
            ", ".join(f"{v:.0f}" for v in worker_children) + " MB RSS",
            budget="≤ 100 MB each",
            ok=max(worker_children) <= 100,
        )
    )
    ROWS.append(
        Row(
            f"memory: worker processes after {len(ids)} executions",
            ", ".join(f"{v:.0f}" for v in after.values()) + " MB RSS",
        )
    )


def cleanup() -> None:
    from bifrost_site import queues
    from bifrost_site.celery import app

    try:
        with app.connection_for_write() as connection:
            queues.delete_topology(connection, ENV["QUEUE_PREFIX"])
    except Exception as exc:
        print(f"  (could not delete bench queues: {exc})")


def verdict(row: Row) -> str:
    return "" if row.ok is None else ("PASS" if row.ok else "MISS")


def ratio(value: float, baseline: float) -> str:
    if baseline != baseline or not baseline:  # NaN: no baseline measured in this run
        return ""
    return f"{value / baseline:.2f}×"


def print_table() -> None:
    headers = ("scenario", "figure", "budget", "baseline", "ratio", "")
    table = [headers] + [(r.scenario, r.figure, r.budget, r.baseline, r.ratio, verdict(r)) for r in ROWS]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for index, row in enumerate(table):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke mode: small counts, under a minute")
    parser.add_argument("--only", default="raw,sync,async,logs,executions,workflows,memory")
    parser.add_argument("--web", choices=["daphne", "gunicorn"], default="daphne")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    wanted = set(args.only.split(","))

    setup_django()
    print(f"Preparing {BENCH_DB} (run {RUN_ID}) …")
    prepare_database()
    scenarios = [
        ("raw", scenario_raw_celery, ()),
        ("sync", scenario_sync_execute, (args.web,)),
        ("async", scenario_async_throughput, (args.web,)),
        ("logs", scenario_log_lines, (args.web,)),
        ("executions", scenario_lists, (args.web, "executions")),
        ("workflows", scenario_lists, (args.web, "workflows")),
        ("memory", scenario_memory, (args.web,)),
    ]
    try:
        for key, func, extra in scenarios:
            if key in wanted:
                print(f"… {key}")
                try:
                    func(args.quick, *extra)
                except Exception as exc:
                    ROWS.append(Row(key, f"error: {exc}", ok=False))
    finally:
        cleanup()
    print()
    print_table()
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in ROWS], indent=2))
    return 0 if all(r.ok is not False for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
