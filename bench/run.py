#!/usr/bin/env python
"""Bifrost benchmarks against the performance budget of DESIGN §13.

    python bench/run.py                        # full mode (a few minutes)
    python bench/run.py --quick                # smoke mode, under a minute
    python bench/run.py --web daphne,granian   # HTTP scenarios on each server (WebSocket stays on daphne)
    python bench/run.py --web granian,gunicorn # the split deployment's WSGI server against gunicorn
    python bench/run.py --only floor,http,raw,sync,async,fairness,fanout,async1,logs,executions,workflows,usage,memory
    BENCH_GRANIAN_ARGS="--workers 1 --blocking-threads 8" python bench/run.py --web granian  # other options
    python bench/run.py --profile /tmp/prof    # py-spy collapsed stacks of the web server and worker

Everything runs on this machine's PostgreSQL, RabbitMQ and Redis, on a database of its own
(BENCH_DATABASE_URL, default `bifrost_bench`), its own queue names and Redis prefix, with a real web
server (daphne, or granian or gunicorn for HTTP) and real Celery prefork workers started as subprocesses.

Two baselines are measured in the same run: the *floor* (a bare Celery app with Celery's defaults,
bench/floor_app.py) and *raw* (Bifrost's own Celery app and settings, `bifrost_site.ping` on the
Bifrost worker). Each figure is printed beside its budget and the raw baseline, with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import urllib3

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RUN_ID = uuid.uuid4().hex[:8]
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@localhost:5432/bifrost_bench")
ADMIN_EMAIL = "bench@bifrost.local"
ADMIN_PASSWORD = "bench-password-not-secret"
PROFILE_DIR: Path | None = None
ALL_SCENARIOS = "floor,http,raw,sync,async,fairness,fanout,logs,executions,workflows,usage,memory,async1"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bifrost_site.settings",
    "ENVIRONMENT": "testing",
    "DEBUG": "false",
    "DEV_AUTH_BYPASS": "false",
    "DATABASE_URL": BENCH_DB,
    "QUEUE_PREFIX": f"bench-{RUN_ID}.",
    "REDIS_KEY_PREFIX": f"bench-{RUN_ID}",
    "BENCH_FLOOR_PREFIX": f"bench-floor-{RUN_ID}",
    "WORKSPACE_PATH": str(ROOT / "bench" / "workspace"),
    "WORKSPACE_WATCH": "false",
    "DISCOVER_ON_WORKER_START": "false",
    "LOG_LEVEL": "WARNING",
    "LOGIN_THROTTLE_RATE": "100000/min",
    "RUN_RATE_PER_USER": "1000000/min",
    # The throughput scenarios' runs are GLOBAL: admission must not hold them (DESIGN §15); `fairness`
    # sets its organizations' own limits.
    "ORG_MAX_CONCURRENT_RUNS": "100000",
    "PYTHONPATH": str(ROOT),
    "PYTHONWARNINGS": "ignore",
}


@dataclass
class Row:
    scenario: str
    figure: str
    budget: str = ""
    baseline: str = ""
    ratio: str = ""
    ok: bool | None = None
    values: dict = field(default_factory=dict)
    # DESIGN §13: the absolute budget judged again with it scaled by this round's machine factor
    factor: float | None = None
    ok_at_factor: bool | None = None


ROWS: list[Row] = []


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def ratio(value: float, baseline: float) -> str:
    if baseline != baseline or not baseline:  # NaN: no baseline measured in this run
        return ""
    return f"{value / baseline:.2f}×"


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
    manage("discover_workflows")


# --- processes -----------------------------------------------------------------------------------


class Process:
    def __init__(self, name: str, argv: list[str], cwd: Path = ROOT):
        self.name = name
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bifrost-bench-{RUN_ID}-{name}.log"  # noqa: S108
        self.log = open(log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=ENV, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.profiler: subprocess.Popen | None = None

    def profile(self) -> None:
        """Attach py-spy (collapsed stacks, subprocesses included) until stop(); needs --profile DIR."""
        if PROFILE_DIR is None or self.profiler is not None:
            return
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        out = PROFILE_DIR / f"{self.name}.txt"
        self.profiler = subprocess.Popen(
            [str(Path(PY).with_name("py-spy")), "record", "--pid", str(self.proc.pid), "--subprocesses",
             "--nonblocking", "--rate", "250", "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            try:
                self.profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def rss_mb(self) -> dict[str, tuple[float, float]]:
        """(RSS, USS) in MB of the process and its children, by role (main / child N).

        RSS counts pages shared with the parent after fork (code, Django's imports) in every child;
        USS is what the process alone holds, i.e. what one more process costs.
        """
        import psutil

        parent = psutil.Process(self.proc.pid)
        sizes = {}
        for index, proc in enumerate([parent, *parent.children(recursive=True)]):
            try:
                info = proc.memory_full_info()
            except psutil.Error:
                continue
            sizes["main" if index == 0 else f"child {index}"] = (info.rss / 1e6, info.uss / 1e6)
        return sizes


def worker_queues() -> str:
    from bifrost_site import queues

    return ",".join(queues.queue_name(q) for q in queues.QUEUE_NAMES)


def _wait_ready(proc: Process, check, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            check()
            return
        except Exception:
            if time.monotonic() > deadline or proc.proc.poll() is not None:
                proc.stop()
                raise RuntimeError(f"{what} did not start; see {proc.log.name}") from None
            time.sleep(0.1)


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
    from bifrost_site.tasks import ping_task

    _wait_ready(proc, lambda: ping_task.apply_async(args=["ready"]).get(timeout=2), "worker")
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def floor_worker():
    proc = Process(
        "floor-worker",
        [PY, "-m", "celery", "-A", "floor_app", "worker", "-P", "prefork", "-c", "2",
         "--without-mingle", "--without-gossip", "-l", "WARNING"],
        cwd=ROOT / "bench",
    )  # fmt: skip
    sys.path.insert(0, str(ROOT / "bench"))
    from floor_app import ping

    _wait_ready(proc, lambda: ping.delay().get(timeout=2), "floor worker")
    try:
        yield ping
    finally:
        proc.stop()


WEB_SERVERS = ("daphne", "granian", "gunicorn")
# The split deployment's daphne (docs/performance.md, Which server for HTTP): started by the log scenario
# when a WSGI server is measured, and sent nothing but the WebSocket.
WEBSOCKETS_ONLY = "daphne-ws"


def web_argv(kind: str, port: int) -> list[str]:
    # granian as docker/start-web.sh runs it in split mode; gunicorn as the split mode ran it before (for comparison).
    # A sync execute holds its thread while it waits for the worker: 2 processes × 8 threads in both.
    if kind == "gunicorn":
        return [
            PY, "-m", "gunicorn", "bifrost_site.wsgi:application", "-b", f"127.0.0.1:{port}",
            *os.environ.get("BENCH_GUNICORN_ARGS", "-w 2 -k gthread --threads 8").split(), "--log-level", "warning",
        ]  # fmt: skip
    if kind == "granian":
        return [
            str(Path(PY).with_name("granian")), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            *os.environ.get("BENCH_GRANIAN_ARGS", "--workers 2 --blocking-threads 8").split(), "--log-level", "error",
            "bifrost_site.wsgi:application",
        ]  # fmt: skip
    return [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bifrost_site.asgi:application"]


@contextmanager
def web_server(kind: str):
    import requests

    port = free_port()
    proc = Process(f"web-{kind}", web_argv(kind, port))
    base = f"http://127.0.0.1:{port}"

    def live():
        if kind == WEBSOCKETS_ONLY:  # no HTTP request: this daphne serves WebSockets only, as in the split
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        elif requests.get(f"{base}/health/live", timeout=1).status_code != 200:
            raise RuntimeError("not live")

    _wait_ready(proc, live, f"web server ({kind})")
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


# --- context shared by the scenarios ---------------------------------------------------------------


# DESIGN §13: the absolute budgets hold on a day when raw Celery runs at this many tasks/s or more.
REFERENCE_RAW_TASKS_PER_S = 830.0


def machine_factor(raw_tasks_per_s: float) -> float | None:
    """830 ÷ this round's raw Celery tasks/s, never below 1: a slow round scales every absolute budget by it
    (times multiplied, rates divided); a fast round judges by the absolute budget. None without a baseline."""
    if not raw_tasks_per_s or raw_tasks_per_s != raw_tasks_per_s or raw_tasks_per_s <= 0:  # unset (NaN) or zero
        return None
    return max(1.0, REFERENCE_RAW_TASKS_PER_S / raw_tasks_per_s)


@dataclass
class Baseline:
    floor_p50: float = float("nan")
    floor_throughput: float = float("nan")
    roundtrip_p50: float = float("nan")
    roundtrip_p99: float = float("nan")
    throughput: float = float("nan")


@dataclass
class Bench:
    quick: bool
    webs: list[str]
    stack: ExitStack
    worker: Process | None = None
    worker_idle_rss: dict = field(default_factory=dict)
    servers: dict = field(default_factory=dict)  # kind -> (base, Process, session, idle rss)
    executions_run: int = 0
    baseline: Baseline = field(default_factory=Baseline)
    http_floor: dict = field(default_factory=dict)  # web kind -> /health/live p50 (s)

    @property
    def factor(self) -> float | None:
        return machine_factor(self.baseline.throughput)

    def ensure_worker(self) -> Process:
        if self.worker is None:
            self.worker = self.stack.enter_context(celery_worker(2))
            time.sleep(1.0)  # let the pool children settle before the idle reading
            self.worker_idle_rss = self.worker.rss_mb()
            self.worker.profile()
        return self.worker

    def server(self, kind: str):
        if kind not in self.servers:
            base, proc = self.stack.enter_context(web_server(kind))
            session = None if kind == WEBSOCKETS_ONLY else api_session(base)
            idle = proc.rss_mb()
            proc.profile()
            self.servers[kind] = (base, proc, session, idle)
        return self.servers[kind]


# --- scenarios -----------------------------------------------------------------------------------


def _roundtrip_and_throughput(task, n: int, total: int) -> tuple[list[float], float]:
    for _ in range(10):
        task.delay().get(timeout=10)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        task.delay().get(timeout=10)
        samples.append(time.perf_counter() - start)
    start = time.perf_counter()
    results = [task.delay() for _ in range(total)]
    for result in results:
        result.get(timeout=120)
    return samples, total / (time.perf_counter() - start)


def scenario_floor(bench: Bench) -> None:
    n, total = (100, 500) if bench.quick else (1000, 5000)
    with floor_worker() as ping:
        samples, rate = _roundtrip_and_throughput(ping, n, total)
    b = bench.baseline
    b.floor_p50, b.floor_throughput = percentile(samples, 50), rate
    ROWS.append(
        Row(
            "floor: bare Celery (defaults) no-op round trip, throughput (2 procs)",
            f"p50 {ms(b.floor_p50)}, p99 {ms(percentile(samples, 99))}; {rate:.0f} tasks/s",
            values={"p50_ms": b.floor_p50 * 1000, "p99_ms": percentile(samples, 99) * 1000, "per_s": rate},
        )
    )


def scenario_raw_celery(bench: Bench) -> None:
    from bifrost_site.tasks import ping_task

    bench.ensure_worker()
    n, total = (100, 500) if bench.quick else (1000, 5000)
    samples, rate = _roundtrip_and_throughput(ping_task, n, total)
    b = bench.baseline
    b.roundtrip_p50, b.roundtrip_p99, b.throughput = percentile(samples, 50), percentile(samples, 99), rate
    ROWS.append(
        Row(
            "raw: Bifrost's Celery app no-op round trip, throughput (2 procs)",
            f"p50 {ms(b.roundtrip_p50)}, p99 {ms(b.roundtrip_p99)}; {rate:.0f} tasks/s",
            baseline=f"floor p50 {ms(b.floor_p50)}" if b.floor_p50 == b.floor_p50 else "",
            ratio=ratio(b.roundtrip_p50, b.floor_p50),
            values={"p50_ms": b.roundtrip_p50 * 1000, "p99_ms": b.roundtrip_p99 * 1000, "per_s": rate},
        )
    )


def _json_client(base: str, token: str):
    """A keep-alive urllib3 pool and a `post(path, payload)` on it: what requests is built on, at about
    half of its per-call CPU. The client shares the 2 cores with the system under test."""
    pool = urllib3.HTTPConnectionPool(urlsplit(base).hostname, port=urlsplit(base).port, maxsize=8)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path: str, payload: dict):
        return pool.request("POST", path, body=json.dumps(payload).encode(), headers=headers, timeout=30.0)

    return pool, post


def scenario_http_floor(bench: Bench, web: str) -> None:
    """The web server's own floor: an unauthenticated no-op view (`/health/live`) with the same client."""
    n = 200 if bench.quick else 1000
    base, _, session, _ = bench.server(web)
    pool, _ = _json_client(base, session.access_token)
    for _ in range(20):
        pool.request("GET", "/health/live")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = pool.request("GET", "/health/live")
        samples.append(time.perf_counter() - start)
        if response.status != 200:
            raise RuntimeError(f"/health/live answered {response.status}")
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    bench.http_floor[web] = p50
    ROWS.append(
        Row(
            f"floor: GET /health/live over HTTP ({web})",
            f"p50 {ms(p50)}, p99 {ms(p99)}",
            values={"p50_ms": p50 * 1000, "p99_ms": p99 * 1000},
        )
    )


def scenario_sync_execute(bench: Bench, web: str) -> None:
    n = 150 if bench.quick else 1000
    bench.ensure_worker()
    base, _, session, _ = bench.server(web)
    _, post = _json_client(base, session.access_token)
    path = "/api/workflows/bench_noop_sync/execute"
    for _ in range(10):
        response = post(path, {"parameters": {}})
        if response.status != 200:
            raise RuntimeError(f"sync execute answered {response.status}: {response.data[:200]!r}")
    samples = []
    cpu_before = cpu_seconds_by_group()
    for _ in range(n):
        start = time.perf_counter()
        response = post(path, {"parameters": {}})
        samples.append(time.perf_counter() - start)
        if response.status != 200 or json.loads(response.data).get("status") != "Success":
            raise RuntimeError(f"sync execute failed: {response.status} {response.data[:200]!r}")
    cpu_ms = cpu_ms_per_execution(cpu_before, cpu_seconds_by_group(), n)
    bench.executions_run += n + 10
    p50, p90, p99 = (percentile(samples, p) for p in (50, 90, 99))
    b = bench.baseline
    floor = bench.http_floor.get(web)
    ROWS.append(
        Row(
            f"sync no-op execute over HTTP ({web})",
            f"p50 {ms(p50)}, p90 {ms(p90)}, p99 {ms(p99)}; " + cpu_summary(cpu_ms),
            budget="p50 ≤ 8 ms, p99 ≤ 25 ms",
            baseline=f"p50 {ms(b.roundtrip_p50)}" + (f" + HTTP {ms(floor)}" if floor else ""),
            ratio=ratio(p50, b.roundtrip_p50 + (floor or 0.0)),
            ok=p50 <= 0.008 and p99 <= 0.025,
            values={"p50_ms": p50 * 1000, "p90_ms": p90 * 1000, "p99_ms": p99 * 1000, "cpu_ms_per_execution": cpu_ms},
            **at_factor(bench, lambda f: p50 <= 0.008 * f and p99 <= 0.025 * f),
        )
    )


def at_factor(bench: Bench, holds) -> dict:
    """The Row fields for an absolute budget judged at this round's machine factor (`holds(factor)`)."""
    factor = bench.factor
    return {} if factor is None else {"factor": factor, "ok_at_factor": holds(factor)}


def _wait_all_finished(ids: list[str], timeout: float) -> float:
    """Wait until every execution is finished; return when the last one finished (wall clock).

    The finish time is the rows' own `completed_at`, so the polling can be slow and cheap (it only
    asks about the executions not yet seen finished) and takes little database time from the
    system under test.
    """
    from django.db.models import Max

    from executions.models import FINISHED_STATUSES, Execution

    deadline = time.monotonic() + timeout
    remaining = set(ids)
    while remaining and time.monotonic() < deadline:
        finished = Execution.objects.filter(id__in=list(remaining), status__in=FINISHED_STATUSES)
        remaining -= {str(pk) for pk in finished.values_list("id", flat=True)}
        if remaining:
            time.sleep(0.2)
    if remaining:
        raise RuntimeError(f"only {len(ids) - len(remaining)}/{len(ids)} executions finished in {timeout}s")
    return Execution.objects.filter(id__in=ids).aggregate(last=Max("completed_at"))["last"].timestamp()


CPU_GROUPS = (
    # (label, what its command line contains); the first match wins
    ("client", None),  # this process
    ("web", "gunicorn"),
    ("web", "daphne"),
    ("web", "granian"),
    ("worker", "celery"),
    ("postgres", "postgres"),
    ("rabbitmq", "beam.smp"),
    ("redis", "redis-server"),
)


def cpu_seconds_by_group() -> dict[str, float]:
    """CPU time (user + system) of the processes that serve an execution, by group, from /proc.

    Counts every matching process on the machine, so it is only meaningful on an otherwise idle machine
    (a second web server of another run would count as `web`)."""
    ticks: dict[str, int] = {}
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for label, needle in CPU_GROUPS:
            if (needle is None and pid == me) or (needle and needle in cmdline and pid != me):
                ticks[label] = ticks.get(label, 0) + int(fields[11]) + int(fields[12])
                break
    hz = os.sysconf("SC_CLK_TCK")
    return {label: value / hz for label, value in ticks.items()}


def cpu_ms_per_execution(before: dict[str, float], after: dict[str, float], executions: int) -> dict[str, float]:
    return {
        group: (after[group] - before.get(group, 0.0)) * 1000 / executions
        for group in after
        if after[group] > before.get(group, 0.0)
    }


def cpu_summary(cpu_ms: dict[str, float]) -> str:
    return f"CPU ms/execution {sum(cpu_ms.values()):.1f}: " + ", ".join(
        f"{group} {value:.1f}" for group, value in sorted(cpu_ms.items(), key=lambda kv: -kv[1])
    )


def _async_run(bench: Bench, base: str, n: int, label: str, budget: bool) -> None:
    from executions.models import Execution

    url = f"{base}/api/workflows/bench_noop_async/execute"
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    token = api_session(base).access_token
    # urllib3 directly (what requests is built on): the client shares the 2 cores with the system
    # under test, and requests' per-call overhead is about half of the client's CPU.
    pool = urllib3.HTTPConnectionPool(urlsplit(base).hostname, port=urlsplit(base).port, maxsize=8)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"parameters": {}}).encode()

    def submit(count: int) -> None:
        for _ in range(count):
            response = pool.request("POST", urlsplit(url).path, body=body, headers=headers, timeout=30.0)
            with lock:
                if response.status == 202:
                    ids.append(json.loads(response.data)["execution_id"])
                else:
                    errors.append(f"{response.status} {response.data[:100]!r}")

    cpu_before = cpu_seconds_by_group()
    start = time.time()
    clients = 8
    threads = [threading.Thread(target=submit, args=(n // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    submitted = time.time()
    if errors:
        raise RuntimeError(f"{len(errors)} submits failed, e.g. {errors[0]}")
    end = _wait_all_finished(ids, timeout=300)
    cpu_after = cpu_seconds_by_group()
    cpu_ms = cpu_ms_per_execution(cpu_before, cpu_after, len(ids))
    bench.executions_run += len(ids)
    rate = len(ids) / (end - start)
    succeeded = Execution.objects.filter(id__in=ids, status="Success").count()
    submit_rate = len(ids) / (submitted - start)
    b = bench.baseline
    ROWS.append(
        Row(
            label,
            f"{rate:.0f} executions/s ({succeeded}/{len(ids)} Success; submits {submit_rate:.0f}/s); "
            + cpu_summary(cpu_ms),
            budget="≥ 250/s" if budget else "",
            baseline=f"{b.throughput:.0f} tasks/s",
            ratio=ratio(rate, b.throughput),
            ok=(rate >= 250 if budget else True) and succeeded == len(ids),
            values={"per_s": rate, "submits_per_s": submit_rate, "cpu_ms_per_execution": cpu_ms},
            **(at_factor(bench, lambda f: rate >= 250 / f and succeeded == len(ids)) if budget else {}),
        )
    )


def scenario_async_throughput(bench: Bench, web: str) -> None:
    bench.ensure_worker()
    base, _, _, _ = bench.server(web)
    n = 320 if bench.quick else int(os.environ.get("BENCH_ASYNC_N", "2000"))
    _async_run(bench, base, n, f"async no-op executions, submit → Success, 2 procs ({web})", budget=True)


def scenario_async_one_process(bench: Bench, web: str) -> None:
    """Last: stops the shared 2-process worker and runs the same submits against a 1-process worker."""
    if bench.worker is not None:
        bench.worker.stop()
        bench.worker = None
    base, _, _, _ = bench.server(web)
    n = 160 if bench.quick else 1000
    with celery_worker(1):
        _async_run(bench, base, n, f"async no-op executions, submit → Success, 1 proc ({web})", budget=False)


FAIR_A_RUNS, FAIR_B_RUNS, FAIR_LIMIT = 2000, 20, 8


def scenario_fairness(bench: Bench, web: str) -> None:
    """DESIGN §13/§15: organization A's 2,000 runs wait (its limit 0 while they are submitted), then A's
    limit becomes 8 (the dispatcher starts on them) and organization B (limit 8) submits 20 runs. B's runs
    must all succeed before A's backlog is 10 % done. Reports B's wait (created → started) and A's
    throughput through the dispatcher beside the round's raw Celery baseline."""
    from executions.models import Execution
    from orgs.models import Organization

    bench.ensure_worker()
    base, _, session, _ = bench.server(web)
    org_a = Organization.objects.create(name=f"bench A {RUN_ID}", max_concurrent_runs=0)
    org_b = Organization.objects.create(name=f"bench B {RUN_ID}", max_concurrent_runs=FAIR_LIMIT)
    pool = urllib3.HTTPConnectionPool(urlsplit(base).hostname, port=urlsplit(base).port, maxsize=8)
    path = "/api/workflows/bench_noop_async/execute"
    body = json.dumps({"parameters": {}}).encode()

    def submit(org, count: int, clients: int) -> list[str]:
        headers = {
            "Authorization": f"Bearer {session.access_token}",
            "Content-Type": "application/json",
            "X-Organization-Id": str(org.id),
        }
        ids, errors, lock = [], [], threading.Lock()

        def run(n: int) -> None:
            for _ in range(n):
                response = pool.request("POST", path, body=body, headers=headers, timeout=30.0)
                with lock:
                    (ids if response.status == 202 else errors).append(
                        json.loads(response.data)["execution_id"] if response.status == 202 else response.status
                    )

        threads = [threading.Thread(target=run, args=(count // clients,)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(f"{len(errors)} submits failed, e.g. {errors[0]}")
        return ids

    a_ids = submit(org_a, FAIR_A_RUNS, 8)
    waiting = Execution.objects.filter(id__in=a_ids, status="Pending").exclude(waiting_reason="").count()
    released = time.time()
    response = session.patch(f"{base}/api/organizations/{org_a.id}", json={"max_concurrent_runs": FAIR_LIMIT})
    response.raise_for_status()
    b_ids = submit(org_b, FAIR_B_RUNS, 4)
    b_last = _wait_all_finished(b_ids, timeout=300)
    b_last_at = datetime.fromtimestamp(b_last, UTC)
    a_done_then = Execution.objects.filter(id__in=a_ids, completed_at__lte=b_last_at).count()
    a_last = _wait_all_finished(a_ids, timeout=900)
    bench.executions_run += len(a_ids) + len(b_ids)
    b_runs = Execution.objects.filter(id__in=b_ids)
    waits = [(e.started_at - e.created_at).total_seconds() for e in b_runs if e.started_at]
    b_success = b_runs.filter(status="Success").count()
    a_success = Execution.objects.filter(id__in=a_ids, status="Success").count()
    a_rate = len(a_ids) / (a_last - released)
    b = bench.baseline
    share = a_done_then / len(a_ids)
    ok = b_success == len(b_ids) and share < 0.10 and a_success == len(a_ids)
    ROWS.append(
        Row(
            f"fairness: A's {FAIR_A_RUNS} waiting, then B's {FAIR_B_RUNS} (limit {FAIR_LIMIT} each, {web})",
            f"B wait p50 {ms(percentile(waits, 50))}, p99 {ms(percentile(waits, 99))}; all B done when A had "
            f"{a_done_then}/{len(a_ids)} ({share:.1%}) done; A {a_rate:.0f} executions/s through the dispatcher "
            f"({waiting} had waited; {a_success}/{len(a_ids)} A and {b_success}/{len(b_ids)} B Success)",
            budget="all B before 10 % of A",
            baseline=f"{b.throughput:.0f} tasks/s",
            ratio=ratio(a_rate, b.throughput),
            ok=ok,
            values={
                "b_wait_p50_ms": percentile(waits, 50) * 1000,
                "b_wait_p99_ms": percentile(waits, 99) * 1000,
                "a_done_share_when_b_done": share,
                "a_per_s": a_rate,
            },
        )
    )


FANOUT_ORGS, FANOUT_INTERACTIVE, FANOUT_INTERVAL = 500, 200, 0.1
FANOUT_SCHEDULE = "bench fan-out"
FANOUT_TOLERANCE = 1.25  # the verdict allows B's wait this much over its bound: the machine's noise


def _fanout_organizations(run_id: str):
    """Exactly FANOUT_ORGS active organizations: the interactive organization B (limit 8, new each run) and
    FANOUT_ORGS - 1 seeded ones (kept between runs). Every other active organization of the bench database
    is deactivated for the scenario; returns (B, the ids to reactivate afterwards)."""
    from orgs.models import Organization

    names = [f"bench fan-out {i:03d}" for i in range(FANOUT_ORGS - 1)]
    have = set(Organization.objects.filter(name__in=names).values_list("name", flat=True))
    Organization.objects.bulk_create([Organization(name=name) for name in names if name not in have])
    org_b = Organization.objects.create(name=f"bench interactive B {run_id}", max_concurrent_runs=FAIR_LIMIT)
    Organization.objects.filter(name__in=names).update(is_active=True)
    others = Organization.objects.filter(is_active=True).exclude(name__in=names).exclude(id=org_b.id)
    reactivate = list(others.values_list("id", flat=True))
    others.update(is_active=False)
    return org_b, reactivate


def _fanout_schedule():
    """The bench workflow's each_organization schedule, created once through the schedules service."""
    from workflows.models import Schedule
    from workflows.services.schedules import schedule_create

    schedule = Schedule.objects.filter(workflow__name="bench_noop_async", description=FANOUT_SCHEDULE).first()
    if schedule is None:
        schedule = schedule_create(
            workflow_name="bench_noop_async",
            organization=None,
            values={
                "target": "each_organization",
                "cron": "0 3 * * *",
                "timezone": "UTC",
                "overlap_policy": "allow",
                "description": FANOUT_SCHEDULE,
            },
            user=None,
        )
    return schedule


def _interactive_runs(base: str, token: str, org, count: int, interval: float, during=None) -> list[tuple]:
    """Organization `org` submits up to `count` async runs over the API, one every `interval` seconds (people
    clicking, not a burst). `during()` is read before each submit and returns what to record with the run, or
    None to stop (the fan-out is over). Returns (submitted at, execution id, what `during()` said) per run."""
    pool = urllib3.HTTPConnectionPool(urlsplit(base).hostname, port=urlsplit(base).port, maxsize=2)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "X-Organization-Id": str(org.id)}
    body = json.dumps({"parameters": {}}).encode()
    runs = []
    next_at = time.time()
    for _ in range(count):
        time.sleep(max(0.0, next_at - time.time()))
        context = during() if during is not None else None
        if during is not None and context is None:
            break
        submitted = time.time()
        response = pool.request("POST", "/api/workflows/bench_noop_async/execute", body=body, headers=headers)
        if response.status != 202:
            raise RuntimeError(f"interactive submit answered {response.status}: {response.data[:200]!r}")
        runs.append((submitted, json.loads(response.data)["execution_id"], context))
        next_at += interval
    return runs


def _waits(runs: list[tuple]) -> tuple[list[float], list[float], dict]:
    """(submit → started, submit → finished) in seconds for each run, and the rows by id."""
    from executions.models import Execution

    rows = {str(e.id): e for e in Execution.objects.filter(id__in=[run_id for _, run_id, _ in runs])}
    started = [rows[i].started_at.timestamp() - at for at, i, _ in runs]
    finished = [rows[i].completed_at.timestamp() - at for at, i, _ in runs]
    return started, finished, rows


def scenario_fanout(bench: Bench, web: str) -> None:
    """Issue 24, DESIGN §15: an each_organization schedule over 500 organizations does not delay another
    organization's interactive run by more than its fair share. The tick goes to the worker as beat sends it
    (workflows.run_scheduled_workflow with the schedule's id) and fans out one run per active organization
    through admission; while it does, organization B submits an interactive run every 0.1 s over the API.
    Measured: B's submit → started and submit → Success, beside the same runs with no fan-out, and how much
    of the fan-out was still unfinished when B's last run finished. The check: each of B's runs waits at most
    its turn in a round over the organizations with work waiting, i.e. (the fan-out runs not yet started when
    it was submitted, at most one per organization, + 1) ÷ the fan-out's throughput, plus B's own no-load p99
    (the verdict allows FANOUT_TOLERANCE for the machine's noise)."""
    from executions.models import FINISHED_STATUSES, Execution
    from orgs.models import Organization
    from workflows.tasks import run_scheduled_workflow_task

    bench.ensure_worker()
    base, _, session, _ = bench.server(web)
    count = 40 if bench.quick else FANOUT_INTERACTIVE
    org_b, reactivate = _fanout_organizations(RUN_ID)
    try:
        schedule = _fanout_schedule()
        _interactive_runs(base, session.access_token, org_b, 3, 0.2)  # warm the path
        idle = _interactive_runs(base, session.access_token, org_b, min(count, 30), FANOUT_INTERVAL)
        _wait_all_finished([i for _, i, _ in idle], timeout=120)
        idle_started, idle_finished, _ = _waits(idle)

        fanout = Execution.objects.filter(schedule=schedule)
        tick_sent = time.time()
        sent_at = datetime.fromtimestamp(tick_sent, UTC)
        run_scheduled_workflow_task.apply_async(
            kwargs={"schedule_id": str(schedule.id), "scheduled_for": sent_at.isoformat()}
        )
        this_tick = fanout.filter(created_at__gte=sent_at)
        deadline = time.monotonic() + 60
        while not this_tick.exists() and time.monotonic() < deadline:  # the tick has started fanning out
            time.sleep(0.05)

        def ahead() -> int | None:
            """Fan-out runs created and not yet started (one per organization at most); None once the whole
            fan-out has finished: B's runs are measured only while it lasts."""
            if this_tick.filter(status__in=FINISHED_STATUSES).count() >= FANOUT_ORGS:
                return None
            return this_tick.filter(started_at__isnull=True).exclude(organization=org_b).count()

        loaded = _interactive_runs(base, session.access_token, org_b, count, FANOUT_INTERVAL, during=ahead)
        if not loaded:
            raise RuntimeError("the fan-out finished before B's first submit")
        b_last = datetime.fromtimestamp(_wait_all_finished([i for _, i, _ in loaded], timeout=300), UTC)
        created_by_then = this_tick.filter(created_at__lte=b_last).count()
        finished_by_then = this_tick.filter(status__in=FINISHED_STATUSES, completed_at__lte=b_last).count()
        deadline = time.monotonic() + 600
        while this_tick.count() < FANOUT_ORGS and time.monotonic() < deadline:
            time.sleep(0.5)
        fan_ids = [str(pk) for pk in this_tick.values_list("id", flat=True)]
        fan_last = _wait_all_finished(fan_ids, timeout=600)
        fan_first = min(this_tick.values_list("created_at", flat=True)).timestamp()
        fan_rate = len(fan_ids) / (fan_last - tick_sent)
        fan_success = this_tick.filter(status="Success").count()
        bench.executions_run += len(fan_ids) + len(idle) + len(loaded) + 3
        started, finished, rows = _waits(loaded)
        b_success = sum(1 for row in rows.values() if row.status == "Success")
        slack = percentile(idle_started, 99)
        bounds = [slack + (waiting + 1) / fan_rate for _, _, waiting in loaded]
        within = sum(1 for wait, bound in zip(started, bounds, strict=True) if wait <= bound)
        worst = max(wait / bound for wait, bound in zip(started, bounds, strict=True))
        ahead_counts = [waiting for _, _, waiting in loaded]
    finally:
        Organization.objects.filter(id__in=reactivate).update(is_active=True)
    b = bench.baseline
    ok = worst <= FANOUT_TOLERANCE and b_success == len(loaded) and fan_success == len(fan_ids) == FANOUT_ORGS
    ROWS.append(
        Row(
            f"fan-out: each_organization tick over {FANOUT_ORGS} organizations, B's interactive runs ({web})",
            f"B's {len(loaded)} runs during the fan-out: submit → started p50 {ms(percentile(started, 50))}, "
            f"p99 {ms(percentile(started, 99))} "
            f"({len(idle)} with no fan-out: p50 {ms(percentile(idle_started, 50))}, "
            f"p99 {ms(percentile(idle_started, 99))}); "
            f"submit → Success p50 {ms(percentile(finished, 50))}, p99 {ms(percentile(finished, 99))} "
            f"(no fan-out: p50 {ms(percentile(idle_finished, 50))}, p99 {ms(percentile(idle_finished, 99))}); "
            f"fan-out runs ahead at B's submits p50 {percentile(ahead_counts, 50):.0f}, max {max(ahead_counts)}; "
            f"{within}/{len(loaded)} of B within its fair share (worst {worst:.2f}× the bound); when B's last run "
            f"finished, {FANOUT_ORGS - finished_by_then}/{FANOUT_ORGS} fan-out runs unfinished "
            f"({FANOUT_ORGS - created_by_then} not yet created by the tick); fan-out {fan_rate:.0f} runs/s "
            f"(first run {(fan_first - tick_sent) * 1000:.0f} ms after the tick; {fan_success}/{len(fan_ids)} "
            f"fan-out and {b_success}/{len(loaded)} B Success)",
            budget=f"B within its round-robin turn (±{FANOUT_TOLERANCE - 1:.0%})",
            baseline=f"{b.throughput:.0f} tasks/s",
            ratio=ratio(fan_rate, b.throughput),
            ok=ok,
            values={
                "b_started_p50_ms": percentile(started, 50) * 1000,
                "b_started_p99_ms": percentile(started, 99) * 1000,
                "b_success_p50_ms": percentile(finished, 50) * 1000,
                "b_success_p99_ms": percentile(finished, 99) * 1000,
                "idle_started_p50_ms": percentile(idle_started, 50) * 1000,
                "idle_started_p99_ms": percentile(idle_started, 99) * 1000,
                "idle_success_p50_ms": percentile(idle_finished, 50) * 1000,
                "idle_success_p99_ms": percentile(idle_finished, 99) * 1000,
                "ahead_at_submit": ahead_counts,
                "within_fair_share": within,
                "worst_wait_to_bound": worst,
                "fanout_unfinished_when_b_done": FANOUT_ORGS - finished_by_then,
                "fanout_not_created_when_b_done": FANOUT_ORGS - created_by_then,
                "fanout_per_s": fan_rate,
            },
        )
    )


def scenario_log_lines(bench: Bench) -> None:
    import websocket

    lines = 10000
    bench.ensure_worker()
    http_kind = next((kind for kind in bench.webs if kind != "daphne"), None)
    if http_kind:  # the split deployment: the execute over the WSGI server, the WebSocket to a daphne of its own
        base, _, session, _ = bench.server(http_kind)
        ws_base, deployment = bench.server(WEBSOCKETS_ONLY)[0], f"{http_kind} + daphne"
    else:
        base, _, session, _ = bench.server("daphne")
        ws_base, deployment = base, "daphne"
    response = session.post(
        f"{base}/api/workflows/bench_log_lines/execute", json={"parameters": {"lines": lines}}, timeout=30
    )
    start = time.perf_counter()
    if response.status_code not in (200, 202):
        raise RuntimeError(f"log workflow answered {response.status_code}: {response.text[:200]}")
    execution_id = response.json()["execution_id"]
    ws_url = ws_base.replace("http://", "ws://") + f"/ws/executions/{execution_id}/?token={session.access_token}"
    ws = websocket.create_connection(ws_url, timeout=30, origin=ws_base)  # its own origin (a token client)
    seen: set[int] = set()
    latencies: list[float] = []
    last_line_at = None
    complete = False
    try:
        while not complete and time.perf_counter() - start < 60:
            message = json.loads(ws.recv())
            now = time.perf_counter()
            if message.get("type") == "log":
                seen.add(message["sequence"])
                last_line_at = now
                latencies.append(max(0.0, time.time() - datetime.fromisoformat(message["timestamp"]).timestamp()))
            elif message.get("type") == "status" and message.get("is_complete"):
                complete = True
    finally:
        ws.close()
    bench.executions_run += 1
    from executions.models import ExecutionLog

    stored = ExecutionLog.objects.filter(execution_id=execution_id).count()
    total = (last_line_at or time.perf_counter()) - start
    lost = lines - len(seen)
    ROWS.append(
        Row(
            f"{lines:,}-line log persisted and delivered over WebSocket ({deployment})",
            f"{total:.2f} s to last line, {len(seen) / total:.0f} lines/s, lost {lost}, stored {stored}, "
            f"p99 line latency {ms(percentile(latencies, 99))}",
            budget="≤ 2 s, none lost",
            ok=total <= 2.0 and lost == 0 and stored == lines,
            values={"seconds": total, "lost": lost, "stored": stored, "p99_ms": percentile(latencies, 99) * 1000},
            **at_factor(bench, lambda f: total <= 2.0 * f and lost == 0 and stored == lines),
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
                celery_task_id, attempt, created_at, updated_at, waiting_reason, idempotency_key)
            SELECT gen_random_uuid(), 'bench_noop_async', 'manual', 'bench', 'Success', '{}'::jsonb, NULL, 'none',
                '', '', NULL, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 3, '', 1,
                now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, '', ''
            FROM generate_series(1, %s) AS g
            """,
            [target - have],
        )
        cursor.execute("ANALYZE executions_execution")


USAGE_ROWS, USAGE_ORGS, USAGE_WORKFLOWS = 1_000_000, 50, 20
USAGE_SEEDER = "bench usage"


def seed_usage(target: int = USAGE_ROWS) -> None:
    """`target` finished executions over the past 365 days (about 83,000 a month), in USAGE_ORGS
    organizations and GLOBAL, of USAGE_WORKFLOWS workflows (half of them declare time saved), with mixed
    statuses, durations and CPU: what GET /api/usage aggregates. One INSERT … SELECT generate_series."""
    from django.db import connection

    from executions.models import Execution
    from orgs.models import Organization
    from workflows.models import Workflow

    names = [f"bench usage {i:02d}" for i in range(USAGE_ORGS)]
    have_orgs = set(Organization.objects.filter(name__in=names).values_list("name", flat=True))
    Organization.objects.bulk_create([Organization(name=name) for name in names if name not in have_orgs])
    orgs = Organization.objects.filter(name__in=names).order_by("name")
    org_ids = [str(pk) for pk in orgs.values_list("id", flat=True)]
    have_workflows = set(Workflow.objects.filter(name__startswith="usage_wf_").values_list("name", flat=True))
    Workflow.objects.bulk_create(
        [
            Workflow(
                name=f"usage_wf_{i:02d}",
                description="seeded for the usage scenario",
                source_path="seeded.py",
                time_saved_minutes=(i + 1) * 5 if i % 2 == 0 else None,
            )
            for i in range(USAGE_WORKFLOWS)
            if f"usage_wf_{i:02d}" not in have_workflows
        ]
    )
    have = Execution.objects.filter(executed_by_name=USAGE_SEEDER).count()
    if have >= target:
        return
    with connection.cursor() as cursor:
        # Every 53rd run is GLOBAL; 1 in 20 failed, 1 in 20 timed out or was cancelled, the rest succeeded.
        cursor.execute(
            """
            INSERT INTO executions_execution (id, workflow_name, trigger, executed_by_name, status, parameters,
                result, result_type, error_message, error_type, variables, started_at, completed_at, duration_ms,
                cpu_ms, celery_task_id, attempt, created_at, updated_at, waiting_reason, idempotency_key,
                organization_id)
            SELECT gen_random_uuid(), 'usage_wf_' || lpad((g %% %(workflows)s)::text, 2, '0'), 'schedule',
                %(seeder)s,
                CASE g %% 20 WHEN 0 THEN 'Failed' WHEN 1 THEN 'Timeout' WHEN 2 THEN 'Cancelled'
                    WHEN 3 THEN 'CompletedWithErrors' ELSE 'Success' END,
                '{}'::jsonb, NULL, 'none', '', '', NULL, t, t + ((g * 7919) %% 60000) * interval '1 ms',
                (g * 7919) %% 60000, (g * 31) %% 5000, '', 1, t, t, '', '',
                CASE WHEN g %% 53 = 0 THEN NULL ELSE ((%(orgs)s)::uuid[])[1 + g %% %(n_orgs)s] END
            FROM (
                SELECT g::bigint AS g, now() - (g * (365 * 86400.0 / %(total)s)) * interval '1 second' AS t
                FROM generate_series(%(first)s, %(total)s) AS g
            ) AS seeded
            """,
            {
                "workflows": USAGE_WORKFLOWS,
                "seeder": USAGE_SEEDER,
                "orgs": org_ids,
                "n_orgs": len(org_ids),
                "first": have + 1,
                "total": target,
            },
        )
        cursor.execute("VACUUM ANALYZE executions_execution")


def seed_workflows(target: int) -> None:
    from workflows.models import Workflow

    have = Workflow.objects.filter(name__startswith="seeded_").count()
    Workflow.objects.bulk_create(
        [
            Workflow(
                name=f"seeded_{i:05d}",
                description="seeded",
                source_path="seeded.py",
                parameters=[{"name": "x", "type": "string"}],
            )
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


def queries_for(path: str) -> list[str]:
    """The SQL one request runs, through Django's test client in this process."""
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
        raise RuntimeError(f"GET {path} in process: {response.status_code}")
    return [q["sql"] for q in captured]


def scenario_lists(bench: Bench, web: str, which: str) -> None:
    n = 60 if bench.quick else 500
    if which == "executions":
        seed_executions(100_000)
        paths = ["/api/executions?limit=50"]
        from executions.models import Execution

        rows = Execution.objects.count()  # at least 100,000; 1,000,000 more once the usage scenario has seeded
        budget, name = "p50 ≤ 15 ms, constant queries", f"GET /api/executions, 50/page ({rows:,} rows)"
    else:
        seed_workflows(1000)
        paths = ["/api/workflows"]
        budget, name = "p50 ≤ 15 ms", "GET /api/workflows (1,000 workflows)"
    base, _, session, _ = bench.server(web)
    first = session.get(base + paths[0], timeout=30)
    if first.status_code != 200:
        raise RuntimeError(f"GET {paths[0]}: {first.status_code} {first.text[:200]}")
    if which == "executions":
        body = first.json()
        following = body.get("next") if isinstance(body, dict) else None
        if following:  # the second page too: the figure covers paging, not only the first page
            parts = urlsplit(following)
            paths.append(f"{parts.path}?{parts.query}")
    query_counts = sorted({len(queries_for(path)) for path in paths})
    measure_get(session, base + paths[0], 10)
    samples = []
    for path in paths:
        samples += measure_get(session, base + path, n // len(paths))
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    ROWS.append(
        Row(
            f"{name} ({web})",
            f"p50 {ms(p50)}, p99 {ms(p99)}, queries/request {'/'.join(map(str, query_counts))}",
            budget=budget,
            ok=p50 <= 0.015 and (len(query_counts) == 1 if which == "executions" else True),
            values={"p50_ms": p50 * 1000, "p99_ms": p99 * 1000, "queries": query_counts},
            **at_factor(
                bench, lambda f: p50 <= 0.015 * f and (len(query_counts) == 1 if which == "executions" else True)
            ),
        )
    )


def scenario_usage(bench: Bench, web: str) -> None:
    """Issue 26: GET /api/usage (JSON and CSV) with 1,000,000 executions over the past year (about 83,000
    a month, 50 organizations and GLOBAL). A closed month is read from its stored rollup (UsageMonth); its
    first read aggregates and stores it; the current month is aggregated live. p50/p99 and queries each."""
    from datetime import timedelta

    from executions.models import Execution, UsageMonth
    from executions.usage import month_bounds

    seed_usage(USAGE_ROWS)
    base, _, session, _ = bench.server(web)
    now = datetime.now(UTC)
    closed = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    current = now.strftime("%Y-%m")
    start, end = month_bounds(closed)
    month_runs = Execution.objects.filter(created_at__gte=start, created_at__lt=end).count()
    n = 20 if bench.quick else 100

    def first_reads(count: int) -> list[float]:  # the aggregate and the store, each after the row is gone
        samples = []
        for _ in range(count):
            UsageMonth.objects.filter(month=start.date()).delete()
            samples += measure_get(session, f"{base}/api/usage?month={closed}", 1)
        return samples

    first = first_reads(3 if bench.quick else 5)
    stored_queries = len(queries_for(f"/api/usage?month={closed}"))
    measure_get(session, f"{base}/api/usage?month={closed}", 5)
    stored = measure_get(session, f"{base}/api/usage?month={closed}", n)
    csv = measure_get(session, f"{base}/api/usage?month={closed}&format=csv", n)
    live_queries = len(queries_for(f"/api/usage?month={current}"))
    live = measure_get(session, f"{base}/api/usage?month={current}", max(10, n // 4))
    current_runs = Execution.objects.filter(created_at__gte=month_bounds(current)[0]).count()
    figures = {
        "stored_p50_ms": percentile(stored, 50) * 1000,
        "stored_p99_ms": percentile(stored, 99) * 1000,
        "csv_p50_ms": percentile(csv, 50) * 1000,
        "csv_p99_ms": percentile(csv, 99) * 1000,
        "first_read_p50_ms": percentile(first, 50) * 1000,
        "live_p50_ms": percentile(live, 50) * 1000,
        "live_p99_ms": percentile(live, 99) * 1000,
        "queries_stored": stored_queries,
        "queries_live": live_queries,
        "month_runs": month_runs,
        "current_month_runs": current_runs,
    }
    ROWS.append(
        Row(
            f"GET /api/usage, 1M executions ({web})",
            f"closed month ({month_runs:,} runs, stored): p50 {ms(percentile(stored, 50))}, "
            f"p99 {ms(percentile(stored, 99))}, CSV p50 {ms(percentile(csv, 50))}, p99 {ms(percentile(csv, 99))}, "
            f"{stored_queries} queries; its first read (aggregate + store) p50 {ms(percentile(first, 50))}; "
            f"current month ({current_runs:,} runs, live): p50 {ms(percentile(live, 50))}, "
            f"p99 {ms(percentile(live, 99))}, {live_queries} queries",
            values=figures,
        )
    )


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{role} {rss:.0f} (USS {uss:.0f})" for role, (rss, uss) in sizes.items()) + " MB RSS"


def scenario_memory(bench: Bench) -> None:
    # On its own (--only memory) the scenario starts the worker and the web servers itself.
    bench.ensure_worker()
    for kind in bench.webs:
        bench.server(kind)
    for kind, (_, proc, _, idle) in bench.servers.items():
        name = f"idle web ({kind})"
        if kind == WEBSOCKETS_ONLY:  # read now, after the log scenario's WebSocket session: the larger figure
            idle, name = proc.rss_mb(), "web (daphne serving WebSockets only, after a session)"
        largest = max(rss for rss, _ in idle.values())
        ROWS.append(
            Row(
                f"memory: {name}, per process",
                _sizes(idle),
                budget="≤ 120 MB",
                ok=largest <= 120,
                values={"mb": idle},
            )
        )
    after = bench.worker.rss_mb()
    ROWS.append(
        Row(
            "memory: idle worker, per process",
            _sizes(bench.worker_idle_rss),
            budget="≤ 100 MB",
            ok=max(rss for rss, _ in bench.worker_idle_rss.values()) <= 100,
            values={"mb": bench.worker_idle_rss},
        )
    )
    ROWS.append(
        Row(
            f"memory: worker after {bench.executions_run:,} executions",
            _sizes(after),
            values={"mb": after, "executions": bench.executions_run},
        )
    )


def cleanup() -> None:
    from bifrost_site import queues
    from bifrost_site.celery import app

    try:
        with app.connection_for_write() as connection:
            queues.delete_topology(connection, ENV["QUEUE_PREFIX"])
            channel = connection.default_channel
            channel.queue_delete(f"{ENV['BENCH_FLOOR_PREFIX']}.q")
            channel.exchange_delete(f"{ENV['BENCH_FLOOR_PREFIX']}.q")
    except Exception as exc:
        print(f"  (could not delete bench queues: {exc})")
    try:
        import redis
        from django.conf import settings

        for url, pattern in (
            (settings.REDIS_RESULTS_URL, f"{ENV['REDIS_KEY_PREFIX']}*"),
            (settings.REDIS_RESULTS_URL, f"{ENV['BENCH_FLOOR_PREFIX']}*"),
            (settings.REDIS_CACHE_URL, f"*{ENV['REDIS_KEY_PREFIX']}*"),
            (settings.REDIS_CHANNELS_URL, f"{ENV['REDIS_KEY_PREFIX']}*"),
        ):
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=pattern, count=1000))
            for index in range(0, len(keys), 500):
                client.delete(*keys[index : index + 500])
    except Exception as exc:
        print(f"  (could not delete bench Redis keys: {exc})")


# The timed scenarios, whose figures move with the host's speed from one minute to the next (a shared
# VM): they run `--repeat` times in rounds (raw, sync, async, raw, sync, async, ...), so each sync and
# async figure still has the raw baseline measured just before it, and the table shows the median run.
REPEATED = ("raw", "sync", "async")
# What orders a scenario's runs, worst first: the median run is the middle one (of an even number,
# the worse of the two middle ones).
MEDIAN_OF = {"per_s": (False, "{:.0f}/s"), "p50_ms": (True, "p50 {:.2f} ms")}  # value: (larger is worse, format)


def schedule(wanted: list[str], repeat: int) -> list[str]:
    """`wanted` in order, with the timed scenarios run `repeat` times in rounds where the first of them was."""
    timed = [key for key in wanted if key in REPEATED]
    order: list[str] = []
    for key in wanted:
        if key not in REPEATED:
            order.append(key)
        elif key == timed[0]:
            order += timed * repeat
    return order


def condensed(rows: list[Row]) -> list[Row]:
    """One row per scenario: a scenario measured more than once becomes its median run, with every run's
    figure added in brackets and each run's values kept under `values["runs"]`."""
    runs: dict[str, list[Row]] = {}
    for row in rows:
        runs.setdefault(row.scenario, []).append(row)
    result = []
    for scenario, measured in runs.items():
        metric = next((name for name in MEDIAN_OF if all(name in row.values for row in measured)), None)
        if len(measured) == 1 or metric is None:
            result += measured
            continue
        larger_is_worse, form = MEDIAN_OF[metric]
        ordered = sorted(measured, key=lambda row: row.values[metric], reverse=larger_is_worse)
        median = ordered[(len(ordered) - 1) // 2]
        spread = ", ".join(form.format(row.values[metric]) for row in measured)
        result.append(
            Row(
                scenario,
                f"{median.figure} [median of {len(measured)} runs: {spread}]",
                budget=median.budget,
                baseline=median.baseline,
                ratio=median.ratio,
                ok=median.ok,
                values={**median.values, "runs": [row.values for row in measured]},
                factor=median.factor,
                ok_at_factor=median.ok_at_factor,
            )
        )
    return result


def verdict(row: Row) -> str:
    """The absolute verdict, and beside it the verdict at the round's machine factor (DESIGN §13)."""
    if row.ok is None:
        return ""
    absolute = "PASS" if row.ok else "MISS"
    if row.factor is None or row.ok_at_factor is None:
        return absolute
    return f"{absolute}; at ×{row.factor:.2f}: {'PASS' if row.ok_at_factor else 'MISS'}"


def print_table() -> None:
    headers = ("scenario", "figure", "budget", "baseline (raw)", "ratio", "")
    table = [headers] + [(r.scenario, r.figure, r.budget, r.baseline, r.ratio, verdict(r)) for r in ROWS]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for index, row in enumerate(table):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def machine() -> dict:
    import psutil

    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "load_before": [round(x, 2) for x in load],
    }


def main() -> int:
    global PROFILE_DIR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke mode: small counts, under a minute")
    parser.add_argument("--only", default=ALL_SCENARIOS, help=f"comma-separated subset of {ALL_SCENARIOS}")
    parser.add_argument(
        "--web",
        default="daphne,granian",
        help="comma-separated servers: daphne, granian, gunicorn (default: daphne,granian)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        choices=range(1, 11),
        metavar="N",
        help=f"run {', '.join(REPEATED)} N times, interleaved, and report the median run (default 3; 1 with --quick)",
    )
    parser.add_argument("--profile", type=Path, help="record py-spy collapsed stacks of every server into DIR")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    wanted = [key for key in ALL_SCENARIOS.split(",") if key in set(args.only.split(","))]
    webs = [w.strip() for w in args.web.split(",") if w.strip()]
    if not webs or any(w not in WEB_SERVERS for w in webs):
        parser.error(f"--web takes a comma-separated list of {', '.join(WEB_SERVERS)}")
    PROFILE_DIR = args.profile

    began = time.perf_counter()
    info = machine()
    setup_django()
    print(f"Preparing {BENCH_DB} (run {RUN_ID}; {info['nproc']} CPUs, load {info['load_before']}) …", flush=True)
    prepare_database()
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    with ExitStack() as stack:
        bench = Bench(quick=args.quick, webs=webs, stack=stack)
        per_web = {"http": scenario_http_floor, "sync": scenario_sync_execute, "async": scenario_async_throughput}
        try:
            for key in schedule(wanted, repeat):
                print(f"… {key}", flush=True)
                try:
                    if key == "floor":
                        scenario_floor(bench)
                    elif key == "raw":
                        scenario_raw_celery(bench)
                    elif key in ("http", "sync", "async"):
                        for web in webs:
                            per_web[key](bench, web)
                    elif key == "fairness":
                        scenario_fairness(bench, webs[0])
                    elif key == "fanout":
                        scenario_fanout(bench, webs[0])
                    elif key == "logs":
                        scenario_log_lines(bench)
                    elif key in ("executions", "workflows"):
                        for web in webs:
                            scenario_lists(bench, web, key)
                    elif key == "usage":
                        scenario_usage(bench, webs[0])
                    elif key == "memory":
                        scenario_memory(bench)
                    elif key == "async1":
                        scenario_async_one_process(bench, webs[0])
                except Exception as exc:
                    ROWS.append(Row(key, f"error: {exc}"[:300], ok=False))
        finally:
            stack.close()
            cleanup()
    ROWS[:] = condensed(ROWS)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    info["seconds"] = round(time.perf_counter() - began, 1)
    print()
    print_table()
    print(f"\n{info['seconds']} s; load average before {info['load_before']}, after {info['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": [r.__dict__ for r in ROWS]}, indent=2))
    return 0 if all(r.ok is not False for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
