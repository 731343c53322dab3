#!/usr/bin/env python
"""Scale-out rehearsal on one machine (issue 25, item 5; docs/scaling.md). Not part of `make test`.

    python bench/rehearsal.py                    # about 2,200 executions, a few minutes
    python bench/rehearsal.py --runs 300 --fault-runs 1000 --concurrency 1

The production topology on loopback, started with the production scripts and proxy configuration:

    Caddy (deploy/Caddyfile, plain HTTP on 127.0.0.1)
      -> 2 x granian  (docker/start-web.sh WEB_SERVER=granian, one worker process each)
      -> 1 x daphne   (docker/start-web.sh WEB_SERVER=daphne, /ws/ only)
    3 x Celery worker, node names rehearsal-<run>-w1/w2/w3@<host>
    1 x Celery beat   (DatabaseScheduler)

on this machine's PostgreSQL, RabbitMQ and Redis, isolated as bench/run.py isolates itself: its own database
(`bifrost_rehearsal`, REHEARSAL_DATABASE_URL), its own queue names (QUEUE_PREFIX rehearsal-<run>.) and Redis prefix,
removed at the end. The workflow is `fault_noop` (bench/faults/workspace), which appends its execution id to a
marker file, so "ran twice" is counted from what actually ran.

1. Throughput per worker count: with 1, then 2, then 3 workers running, the raw Celery baseline (Bifrost's own
   `bifrost_site.ping` task on those workers) and `--runs` async executions submitted through the proxy (8 client
   threads), submit -> terminal state; CPU per execution of each process group (their own process trees only).
2. Faults: `--fault-runs` executions through the proxy with 3 workers; when a quarter have been accepted one worker
   is SIGKILLed (its whole process group, as a container dies), at half one granian web process is SIGKILLed.
   A client retries a submit only when it got no HTTP answer or a 503 with Retry-After (the proxy's answer when no
   web process took the request). Checks: every accepted execution reaches a terminal state, none ran twice, every
   `Success` ran exactly once; executions created whose answer was lost with the killed web process are counted.

Exit status 0 when every check holds. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import urllib3

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
VENV_BIN = Path(PY).parent
RUN_ID = uuid.uuid4().hex[:8]
DATABASE_URL = os.environ.get("REHEARSAL_DATABASE_URL", "postgres://postgres@localhost:5432/bifrost_rehearsal")
ADMIN_EMAIL = "rehearsal@bifrost.local"
ADMIN_PASSWORD = "rehearsal-password-not-secret"  # a throwaway local account
WORKFLOW = "fault_noop"
TERMINAL = ("Success", "Failed", "CompletedWithErrors", "Timeout", "Cancelled")

ENV = {
    **os.environ,
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    "DJANGO_SETTINGS_MODULE": "bifrost_site.settings",
    "ENVIRONMENT": "testing",
    "DEBUG": "false",
    "DEV_AUTH_BYPASS": "false",
    "DATABASE_URL": DATABASE_URL,
    "QUEUE_PREFIX": f"rehearsal-{RUN_ID}.",
    "REDIS_KEY_PREFIX": f"rehearsal-{RUN_ID}",
    "WORKSPACE_PATH": str(ROOT / "bench" / "faults" / "workspace"),
    "WORKSPACE_WATCH": "false",
    "DISCOVER_ON_WORKER_START": "false",
    "LOG_LEVEL": "WARNING",
    "LOGIN_THROTTLE_RATE": "100000/min",
    "RUN_RATE_PER_USER": "1000000/min",
    "NUM_PROXIES": "1",
    "PYTHONPATH": str(ROOT),
    "PYTHONWARNINGS": "ignore",
    "PYTHONUNBUFFERED": "1",
}

TMP = Path(tempfile.mkdtemp(prefix=f"bifrost-rehearsal-{RUN_ID}-"))
MARKERS = TMP / "markers"
PROCESSES: list[Proc] = []


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=ENV, check=True, capture_output=True, text=True)


class Proc:
    """A process in its own session (its whole group can be killed), logging to TMP/<name>.log."""

    def __init__(self, name: str, role: str, argv: list[str], env: dict | None = None):
        self.name, self.role = name, role
        self.log_path = TMP / f"{name}.log"
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env or ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        PROCESSES.append(self)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        try:
            parent = psutil.Process(self.proc.pid)
            total = 0.0
            for proc in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    def kill(self) -> None:
        """SIGKILL the whole process group: what a container or a host losing power does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def wait_until(predicate, what: str, timeout: float = 90, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        if proc is not None and not proc.alive():
            break
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up; see {proc.log_path if proc else TMP}")


def http_live(base: str) -> bool:
    response = urllib3.request("GET", f"{base}/health/live", timeout=2.0, retries=False)
    return response.status == 200


# --- the topology -------------------------------------------------------------------------------------------


def start_web(name: str, server: str, port: int) -> Proc:
    env = {
        **ENV,
        "WEB_SERVER": server,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WEB_WORKERS": "1",
        "RUN_MIGRATIONS": "0",
        "RUN_SETUP": "0",
    }
    proc = Proc(name, "web" if server == "granian" else "ws", ["sh", str(ROOT / "docker" / "start-web.sh")], env)
    wait_until(lambda: http_live(f"http://127.0.0.1:{port}"), name, proc=proc)
    return proc


def start_proxy(port: int, api_ports: list[int], ws_port: int) -> Proc:
    home = TMP / "caddy"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "BIFROST_HOST": f"http://127.0.0.1:{port}",
        "ACME_EMAIL": "rehearsal@example.com",
        "API_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in api_ports),
        "WS_UPSTREAMS": f"127.0.0.1:{ws_port}",
        "CADDY_ADMIN": "off",
    }
    argv = ["caddy", "run", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"]
    proc = Proc("proxy", "proxy", argv, env)
    wait_until(lambda: http_live(f"http://127.0.0.1:{port}"), "proxy", proc=proc)
    return proc


def worker_queues() -> str:
    from bifrost_site import queues

    return ",".join(queues.queue_name(q) for q in queues.QUEUE_NAMES)


def start_worker(index: int, concurrency: int) -> Proc:
    node = f"rehearsal-{RUN_ID}-w{index}@%h"
    argv = [
        PY, "-m", "celery", "-A", "bifrost_site", "worker", "-P", "prefork", "-c", str(concurrency), "-n", node,
        "-Q", worker_queues(), "--without-mingle", "--without-gossip", "-l", "INFO",
    ]  # fmt: skip
    proc = Proc(f"worker{index}", "worker", argv)
    wait_until(lambda: " ready." in proc.log_path.read_text(errors="replace"), f"worker{index}", proc=proc)
    return proc


def start_beat() -> Proc:
    argv = [
        PY, "-m", "celery", "-A", "bifrost_site", "beat", "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler", "-l", "INFO", "--pidfile", str(TMP / "beat.pid"),
        "--schedule", str(TMP / "beat-schedule"),
    ]  # fmt: skip
    proc = Proc("beat", "beat", argv)
    wait_until(lambda: "beat: Starting" in proc.log_path.read_text(errors="replace"), "beat", proc=proc)
    return proc


# --- measurements -----------------------------------------------------------------------------------------


def raw_celery(total: int) -> float:
    """Bifrost's own Celery no-op (bifrost_site.ping) on the running workers: tasks/s, publish -> result."""
    from bifrost_site.tasks import ping_task

    for _ in range(20):
        ping_task.delay().get(timeout=30)
    start = time.perf_counter()
    results = [ping_task.delay() for _ in range(total)]
    for result in results:
        result.get(timeout=300)
    return total / (time.perf_counter() - start)


class Client:
    """Submits executions through the proxy; retries only requests that certainly or possibly got no answer."""

    def __init__(self, base: str):
        self.base = base
        self.token = self._login()
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.answers: Counter = Counter()
        self.retried: Counter = Counter()
        self.failed: list[str] = []

    def _login(self) -> str:
        response = urllib3.PoolManager().request_encode_body(
            "POST",
            f"{self.base}/auth/login",
            fields={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            encode_multipart=False,
            timeout=30.0,
        )
        if response.status != 200:
            raise RuntimeError(f"login through the proxy failed: {response.status} {response.data[:200]!r}")
        return json.loads(response.data)["access_token"]

    def submit_many(self, count: int, threads: int = 8, on_accept=None) -> float:
        """Submit `count` executions; returns the submit phase's wall time."""
        parts = urlsplit(self.base)
        body = json.dumps({"parameters": {"marker_dir": str(MARKERS)}}).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        path = f"/api/workflows/{WORKFLOW}/execute"
        todo = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

        def run(n: int) -> None:
            pool = urllib3.HTTPConnectionPool(parts.hostname, port=parts.port, maxsize=1, retries=False)
            for _ in range(n):
                # one key per logical submit, sent again on a retry: with Idempotency-Key support (DESIGN §15) a
                # retried submit whose first answer was lost returns the original execution instead of a second one
                key = f"rehearsal-{uuid.uuid4().hex}"
                for _attempt in range(20):
                    try:
                        response = pool.request(
                            "POST", path, body=body, headers={**headers, "Idempotency-Key": key}, timeout=60.0
                        )
                    except urllib3.exceptions.HTTPError as exc:
                        with self.lock:
                            self.retried[f"no answer ({type(exc).__name__})"] += 1
                        time.sleep(0.5)
                        continue
                    with self.lock:
                        self.answers[response.status] += 1
                    if response.status == 503 and response.headers.get("Retry-After"):
                        with self.lock:
                            self.retried["503 + Retry-After"] += 1
                        time.sleep(min(float(response.headers["Retry-After"]), 2.0))
                        continue
                    with self.lock:
                        if response.status == 202:
                            self.accepted.append(json.loads(response.data)["execution_id"])
                            if on_accept:
                                on_accept(len(self.accepted))
                        else:
                            self.failed.append(f"{response.status} {response.data[:120]!r}")
                    break
                else:
                    with self.lock:
                        self.failed.append("no answer after 20 attempts")

        start = time.perf_counter()
        workers = [threading.Thread(target=run, args=(n,)) for n in todo]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return time.perf_counter() - start


def websocket_through_proxy(client: Client) -> dict:
    """One execution that logs 3 lines over a second, followed live over /ws/ through the proxy (Caddy -> daphne)."""
    import websocket

    body = json.dumps({"parameters": {"seconds": 1.0, "lines": 3}}).encode()
    response = urllib3.request(
        "POST",
        f"{client.base}/api/workflows/fault_sleep/execute",
        body=body,
        headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
        timeout=30.0,
    )
    execution_id = json.loads(response.data)["execution_id"]
    url = client.base.replace("http", "ws") + f"/ws/executions/{execution_id}/?token={client.token}"
    ws = websocket.create_connection(url, timeout=30)
    lines, complete = set(), False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not complete:
            message = json.loads(ws.recv())
            for item in message if isinstance(message, list) else [message]:
                if item.get("type") == "log":
                    lines.add(item["sequence"])
                elif item.get("type") in ("logs", "backfill"):
                    lines.update(line["sequence"] for line in item.get("lines", []))
                if item.get("type") == "status" and item.get("is_complete"):
                    complete = True
    finally:
        ws.close()
    return {"lines": len(lines), "complete": complete}


def statuses(ids: list[str]) -> dict[str, str]:
    from executions.models import Execution

    found: dict[str, str] = {}
    for index in range(0, len(ids), 1000):
        chunk = ids[index : index + 1000]
        found.update(
            {str(pk): status for pk, status in Execution.objects.filter(id__in=chunk).values_list("id", "status")}
        )
    return found


def wait_terminal(ids: list[str], timeout: float, stall: float = 60) -> tuple[dict[str, str], float]:
    """Statuses once all are terminal (or at the timeout, or after `stall` seconds without a change), and the
    wall-clock time of the last completion."""
    from django.db.models import Max

    from executions.models import Execution

    deadline = time.monotonic() + timeout
    current = statuses(ids)
    changed = time.monotonic()
    while time.monotonic() < deadline and not all(current.get(i) in TERMINAL for i in ids):
        if time.monotonic() - changed > stall:
            break
        time.sleep(0.5)
        previous, current = current, statuses(ids)
        if current != previous:
            changed = time.monotonic()
    last = Execution.objects.filter(id__in=ids).aggregate(last=Max("completed_at"))["last"]
    return current, last.timestamp() if last else time.time()


def marker_counts() -> Counter:
    path = MARKERS / "runs.txt"
    if not path.exists():
        return Counter()
    return Counter(line.split()[0] for line in path.read_text().splitlines() if line.strip())


SERVICE_PORTS = {
    "postgres": urlsplit(DATABASE_URL).port or 5432,
    "rabbitmq": urlsplit(os.environ.get("RABBITMQ_URL", "amqp://localhost:5672//")).port or 5672,
    "redis": urlsplit(os.environ.get("REDIS_URL", "redis://localhost:6379/0")).port or 6379,
}


def connections_by_role() -> dict[str, dict[str, int]]:
    """Established TCP connections from each role's process trees to PostgreSQL, RabbitMQ and Redis."""
    counts: dict[str, dict[str, int]] = {}
    for proc in PROCESSES:
        try:
            tree = [psutil.Process(proc.proc.pid), *psutil.Process(proc.proc.pid).children(recursive=True)]
        except psutil.Error:
            continue
        role = counts.setdefault(proc.role, dict.fromkeys(SERVICE_PORTS, 0))
        for member in tree:
            with contextlib.suppress(psutil.Error):
                for conn in member.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_ESTABLISHED and conn.raddr:
                        for service, port in SERVICE_PORTS.items():
                            if conn.raddr.port == port:
                                role[service] += 1
    return counts


class PeakConnections:
    """Samples connections_by_role() every half second while a phase runs; keeps each figure's maximum."""

    def __init__(self):
        self.peak: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for role, services in connections_by_role().items():
                mine = self.peak.setdefault(role, {})
                for service, count in services.items():
                    mine[service] = max(mine.get(service, 0), count)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def cpu_by_role() -> dict[str, float]:
    totals: dict[str, float] = {}
    for proc in PROCESSES:
        totals[proc.role] = totals.get(proc.role, 0.0) + proc.cpu_seconds()
    return totals


# --- the run ---------------------------------------------------------------------------------------------------


def cleanup() -> None:
    for proc in reversed(PROCESSES):
        proc.stop(timeout=10)
    try:
        from bifrost_site import queues
        from bifrost_site.celery import app

        with app.connection_for_write() as connection:
            queues.delete_topology(connection, ENV["QUEUE_PREFIX"])
    except Exception as exc:
        print(f"  (could not delete the rehearsal queues: {exc})")
    try:
        import redis
        from django.conf import settings

        for url in (settings.REDIS_RESULTS_URL, settings.REDIS_CACHE_URL, settings.REDIS_CHANNELS_URL):
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=f"*{ENV['REDIS_KEY_PREFIX']}*", count=1000))
            for index in range(0, len(keys), 500):
                client.delete(*keys[index : index + 500])
    except Exception as exc:
        print(f"  (could not delete the rehearsal Redis keys: {exc})")
    shutil.rmtree(TMP, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=400, help="executions per worker count (1, 2, 3)")
    parser.add_argument("--fault-runs", type=int, default=1000, help="executions in the fault phase")
    parser.add_argument("--raw", type=int, default=1000, help="raw Celery tasks per worker count")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--keep", action="store_true", help="keep the logs in the temp dir")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if shutil.which("caddy") is None:
        parser.error("caddy is needed (bash scripts/system_packages.sh)")
    if not args.keep:
        atexit.register(cleanup)
    else:
        atexit.register(lambda: [proc.stop(timeout=10) for proc in reversed(PROCESSES)])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    MARKERS.mkdir()

    log(f"rehearsal {RUN_ID}: temp dir {TMP}; database {urlsplit(DATABASE_URL).path.lstrip('/')}")
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    manage("ensure_database")
    manage("migrate", "--noinput")
    django.setup()
    from django.contrib.auth import get_user_model

    users = get_user_model()
    if not users.objects.filter(email=ADMIN_EMAIL).exists():
        users.objects.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)
    manage("setup_periodic_tasks")
    manage("discover_workflows")

    api_ports = [free_port(), free_port()]
    ws_port, proxy_port = free_port(), free_port()
    webs = [start_web(f"web{i + 1}", "granian", port) for i, port in enumerate(api_ports)]
    start_web("ws", "daphne", ws_port)
    start_proxy(proxy_port, api_ports, ws_port)
    start_beat()
    base = f"http://127.0.0.1:{proxy_port}"
    log(f"proxy {base} -> granian :{api_ports[0]}, :{api_ports[1]}; daphne :{ws_port}; beat up")
    client = Client(base)

    figures: dict = {
        "run_id": RUN_ID,
        "worker_concurrency": args.concurrency,
        "per_workers": [],
        "cpus": os.cpu_count(),
    }
    workers: list[Proc] = []
    ok = True
    for count in (1, 2, 3):
        workers.append(start_worker(count, args.concurrency))
        raw = raw_celery(args.raw)
        client.accepted.clear()
        cpu_before = cpu_by_role()
        start = time.time()
        with PeakConnections() as connections:
            submit_s = client.submit_many(args.runs)
            ids = list(client.accepted)
            final, last = wait_terminal(ids, timeout=600)
        cpu_after = cpu_by_role()
        rate = len(ids) / max(last - start, 1e-9)
        cpu_ms = {role: round((cpu_after[role] - cpu_before.get(role, 0.0)) * 1000 / max(len(ids), 1), 2)
                  for role in cpu_after}  # fmt: skip
        succeeded = sum(1 for status in final.values() if status == "Success")
        row = {
            "workers": count,
            "processes": count * args.concurrency,
            "raw_celery_tasks_per_s": round(raw, 1),
            "executions": len(ids),
            "success": succeeded,
            "executions_per_s": round(rate, 1),
            "ratio_to_raw": round(rate / raw, 2),
            "submits_per_s": round(len(ids) / submit_s, 1),
            "cpu_ms_per_execution": cpu_ms,
            "peak_connections": connections.peak,
        }
        figures["per_workers"].append(row)
        ok &= succeeded == len(ids) == args.runs and not client.failed
        log(
            f"{count} worker(s): {rate:.1f} executions/s ({succeeded}/{len(ids)} Success), raw Celery {raw:.1f} "
            f"tasks/s, ratio {rate / raw:.2f}; CPU ms/execution {cpu_ms}; peak connections {connections.peak}"
        )

    ws_check = websocket_through_proxy(client)
    figures["websocket_through_proxy"] = ws_check
    ok &= ws_check["complete"] and ws_check["lines"] >= 3
    log(f"WebSocket through the proxy: {ws_check}")

    # --- faults: kill one worker and one web process mid-run ---
    client.accepted.clear()
    client.answers.clear()
    client.retried.clear()
    from django.utils import timezone

    phase_start = timezone.now()
    events: list[str] = []
    killed = {"worker": False, "web": False}

    def on_accept(n: int) -> None:
        if n >= args.fault_runs // 4 and not killed["worker"]:
            killed["worker"] = True
            threading.Thread(
                target=lambda: (workers[1].kill(), events.append(f"worker2 SIGKILLed at {n} accepted"))
            ).start()
        if n >= args.fault_runs // 2 and not killed["web"]:
            killed["web"] = True
            threading.Thread(target=lambda: (webs[0].kill(), events.append(f"web1 SIGKILLed at {n} accepted"))).start()

    start = time.time()
    client.submit_many(args.fault_runs, on_accept=on_accept)
    ids = list(client.accepted)
    final, last = wait_terminal(ids, timeout=900)
    # rows the clients never heard of: created by the killed web process, whose answer was lost (the client then
    # retried without an honoured Idempotency-Key); they must reach a terminal state too
    created_ids = _created_since(phase_start)
    orphans = [i for i in created_ids if i not in set(ids)]
    orphan_final, _ = wait_terminal(orphans, timeout=60) if orphans else ({}, 0.0)
    orphans_at_first = dict(Counter(orphan_final.get(i, "missing") for i in orphans))
    stuck = [i for i in ids if final.get(i) == "Pending"] + [i for i in orphans if orphan_final.get(i) == "Pending"]
    if stuck:
        # A web process killed between its INSERT and its publish leaves a Pending row that no worker will get
        # (with Idempotency-Key the client's retry is answered with that same row). Beat's cleanup task (every 5
        # minutes) ends it Timeout once it is 10 minutes old; rather than wait, run that task here with its clock
        # 11 minutes ahead (everything else has finished by now).
        import datetime

        from executions.services import executions_cleanup_stuck

        cleanup_counts = executions_cleanup_stuck(now=timezone.now() + datetime.timedelta(minutes=11))
        events.append(f"{len(stuck)} left Pending; cleanup task (clock +11 min): {cleanup_counts}")
        final, _ = wait_terminal(ids, timeout=30)
        orphan_final, _ = wait_terminal(orphans, timeout=30) if orphans else ({}, 0.0)
    created = len(created_ids)
    ran = marker_counts()
    by_status = Counter(final.get(i, "missing") for i in ids)
    not_terminal = [i for i in ids if final.get(i) not in TERMINAL]
    not_terminal += [i for i in orphans if orphan_final.get(i) not in TERMINAL]
    twice = [i for i, n in ran.items() if n > 1]
    success_not_run = [i for i in ids if final.get(i) == "Success" and ran.get(i, 0) != 1]
    fault = {
        "submitted": args.fault_runs,
        "accepted": len(ids),
        "created_rows": created,
        "answer_lost_rows": orphans_at_first,
        "answer_lost_rows_final": dict(Counter(orphan_final.get(i, "missing") for i in orphans)),
        "events": events,
        "answers": {str(k): v for k, v in sorted(client.answers.items())},
        "retried": dict(client.retried),
        "failed_submits": client.failed[:5],
        "final": dict(by_status),
        "not_terminal": len(not_terminal),
        "ran_twice": len(twice),
        "success_not_run_exactly_once": len(success_not_run),
        "executions_per_s": round(len(ids) / max(last - start, 1e-9), 1),
    }
    figures["faults"] = fault
    fault_ok = (
        len(ids) == args.fault_runs and not not_terminal and not twice and not success_not_run and not client.failed
    )
    ok &= fault_ok
    log(f"faults: {json.dumps(fault)}")

    print("\n=== rehearsal summary")
    print(f"{'workers':>7} {'procs':>5} {'raw Celery/s':>12} {'executions/s':>12} {'ratio':>6}  CPU ms per execution")
    for row in figures["per_workers"]:
        cpu = ", ".join(f"{k} {v}" for k, v in sorted(row["cpu_ms_per_execution"].items(), key=lambda kv: -kv[1]))
        print(
            f"{row['workers']:>7} {row['processes']:>5} {row['raw_celery_tasks_per_s']:>12} "
            f"{row['executions_per_s']:>12} {row['ratio_to_raw']:>6}  {cpu}"
        )
    print(
        f"faults: {fault['accepted']}/{fault['submitted']} accepted, {fault['created_rows']} rows created "
        f"(answer lost with the killed web process: {fault['answer_lost_rows']}, "
        f"finally {fault['answer_lost_rows_final']}), "
        f"final {fault['final']}, not terminal {fault['not_terminal']}, ran twice {fault['ran_twice']}, "
        f"Success not run exactly once {fault['success_not_run_exactly_once']}; {'; '.join(events)}; "
        f"retried {fault['retried']}"
    )
    print("PASS" if ok else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if args.keep:
        print(f"logs kept in {TMP}")
    return 0 if ok else 1


def _created_since(moment) -> list[str]:
    from executions.models import Execution

    rows = Execution.objects.filter(workflow_name=WORKFLOW, created_at__gte=moment).values_list("id", flat=True)
    return [str(pk) for pk in rows]


if __name__ == "__main__":
    sys.exit(main())
