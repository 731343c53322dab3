"""The fault scenarios of issue 9 item 2. Each returns a `Result` (PASS/FAIL, figures, failures)."""

from __future__ import annotations

import json
import re
import signal
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from faults.services import wait_until
from faults.stack import ADMIN_EMAIL, ADMIN_PASSWORD, Stack


@dataclass
class Result:
    name: str
    figures: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.failures.append(message)
        return condition

    def line(self) -> str:
        figures = ", ".join(f"{k}={v}" for k, v in self.figures.items())
        verdict = "PASS" if self.ok else "FAIL"
        text = f"{verdict} {self.name} ({self.seconds:.0f}s): {figures}"
        for failure in self.failures:
            text += f"\n    - {failure}"
        return text


# --- ORM helpers (the orchestrator reads the private database) ----------------------------------


def db(fn, attempts: int = 30):
    """Run `fn()` against the database, reconnecting while PostgreSQL restarts."""
    from django.db import connection
    from django.db.utils import InterfaceError, OperationalError

    for attempt in range(attempts):
        try:
            return fn()
        except (OperationalError, InterfaceError):
            connection.close()
            if attempt == attempts - 1:
                raise
            time.sleep(1)


def statuses(ids) -> dict[str, tuple[str, str]]:
    from executions.models import Execution

    rows = db(lambda: list(Execution.objects.filter(id__in=list(ids)).values_list("id", "status", "error_type")))
    return {str(i): (s, e) for i, s, e in rows}


def wait_finished(ids, timeout: float) -> dict[str, tuple[str, str]]:
    from executions.models import FINISHED_STATUSES

    ids = list(ids)
    deadline = time.monotonic() + timeout
    while True:
        current = statuses(ids)
        if all(current.get(i, ("?",))[0] in FINISHED_STATUSES for i in ids) or time.monotonic() > deadline:
            return current
        time.sleep(0.5)


def cleanup_stuck() -> dict:
    from executions.services import executions_cleanup_stuck

    return db(executions_cleanup_stuck)


def count_by_status(current: dict) -> dict:
    return dict(Counter(f"{s}/{e}" if e else s for s, e in current.values()))


def unfinished(current: dict, ids) -> list[str]:
    from executions.models import FINISHED_STATUSES

    return [i for i in ids if current.get(i, ("missing",))[0] not in FINISHED_STATUSES]


def marker_runs(marker_dir: Path) -> Counter:
    path = marker_dir / "runs.txt"
    if not path.exists():
        return Counter()
    return Counter(line.split()[0] for line in path.read_text().splitlines() if line.strip())


def submit(session: requests.Session, base: str, name: str, parameters: dict, timeout: float = 30):
    return session.post(f"{base}/api/workflows/{name}/execute", json={"parameters": parameters}, timeout=timeout)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def ensure_up(stack: Stack, workers: int = 1, concurrency: int = 4) -> None:
    """Every scenario starts from healthy services, one web and `workers` fresh workers."""
    if not stack.pg.is_up():
        stack.pg.start()
    if not stack.redis.is_up():
        stack.redis.start()
    if not stack.rabbit.is_up():
        stack.rabbit.start()
    stack.stop_workers()
    proxy_down = stack.web_mode == "proxy" and (stack.proxy is None or not stack.proxy.alive())
    if stack.web is None or not stack.web.alive() or proxy_down:
        stack.stop_web()
        stack.start_web()
    for n in range(workers):
        stack.start_worker(f"worker{n + 1}", concurrency=concurrency)


# --- 1. RabbitMQ stopped while executions are submitted -----------------------------------------


def scenario_rabbitmq(stack: Stack, quick: bool, result: Result) -> Result:
    ensure_up(stack, workers=1, concurrency=2)
    session = stack.session()
    base = stack.base_url
    marker = stack.base / "marker-rabbit"
    marker.mkdir(exist_ok=True)
    params = {"marker_dir": str(marker)}
    responses: list[tuple[str, int, dict, float]] = []  # (phase, status, body, t)
    phase = {"name": "before"}
    stop = threading.Event()

    def submitter():
        own = stack.session()
        n = 0
        while not stop.is_set():
            n += 1
            name = "fault_sync" if n % 5 == 0 else "fault_noop"
            try:
                response = submit(own, base, name, {} if name == "fault_sync" else params)
                body = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                )
                responses.append((phase["name"], response.status_code, body, time.monotonic()))
            except requests.RequestException as exc:
                responses.append((phase["name"], -1, {"exception": str(exc)}, time.monotonic()))
            time.sleep(0.1)

    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        phase["name"] = "stopping"
        stack.rabbit.stop()
        phase["name"] = "down"
        down_started = time.monotonic()
        time.sleep(6 if quick else 15)
        health = session.get(f"{base}/health", timeout=30).json()
        result.check(
            health["checks"]["broker"]["status"] == "down" and health["status"] == "degraded",
            f"/health with the broker down: {health}",
        )
        phase["name"] = "starting"
        stack.rabbit.start()
        result.figures["broker_down_s"] = round(time.monotonic() - down_started, 1)
        phase["name"] = "after"
        # until the worker has reconnected and runs new submissions
        recovered_at = time.monotonic()
        probe_ids = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            response = submit(session, base, "fault_sync", {})
            if response.status_code in (200, 202):
                probe_ids.append(response.json()["execution_id"])
                if response.status_code == 200 and response.json()["status"] == "Success":
                    break
            time.sleep(1)
        result.figures["recovery_s"] = round(time.monotonic() - recovered_at, 1)
        time.sleep(5 if quick else 10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    codes = Counter(status for _, status, _, _ in responses)
    result.figures["submissions"] = len(responses)
    result.figures["codes"] = dict(sorted(codes.items()))
    accepted = [b["execution_id"] for _, s, b, _ in responses if s in (200, 202)] + probe_ids
    refused = [b for p, s, b, _ in responses if s == 503]
    result.check(all(s in (200, 202, 503) for s in codes), f"unexpected answers: {dict(codes)}")
    result.check(
        sum(1 for p, s, _, _ in responses if p == "down" and s == 503) > 0, "no submission was refused while down"
    )
    result.check(
        all(s == 503 for p, s, _, _ in responses if p == "down"),
        "a submission made while the broker was down was not a 503: "
        + str(Counter(s for p, s, _, _ in responses if p == "down")),
    )
    result.check(
        all(
            s in (200, 202)
            for p, s, _, t in responses
            if p == "after" and t > recovered_at + result.figures["recovery_s"]
        ),
        "a submission after recovery was refused",
    )
    bad_bodies = [
        b for b in refused
        if b.get("error") != "service_unavailable" or "RabbitMQ" not in b.get("message", "")
        or "execution_id" not in b.get("details", {})
    ]  # fmt: skip
    result.check(not bad_bodies, f"503 bodies without a clear error: {bad_bodies[:2]}")
    if refused:
        print(f"    503 body: {json.dumps(refused[0])}")
    refused_ids = [b["details"]["execution_id"] for b in refused if "execution_id" in b.get("details", {})]
    refused_rows = statuses(refused_ids)
    result.figures["refused_rows"] = count_by_status(refused_rows)
    result.check(
        all(v == ("Failed", "BrokerUnavailable") for v in refused_rows.values())
        and len(refused_rows) == len(refused_ids),
        f"503'd rows not all Failed/BrokerUnavailable: {count_by_status(refused_rows)}",
    )
    final = wait_finished(accepted, timeout=120)
    result.figures["accepted"] = len(accepted)
    result.figures["accepted_final"] = count_by_status(final)
    lost = unfinished(final, accepted)
    result.check(not lost, f"{len(lost)} accepted executions never finished: {lost[:3]}")
    result.check(
        all(s == "Success" for s, _ in final.values()), f"accepted executions not all Success: {count_by_status(final)}"
    )
    from executions.models import Execution

    pending = db(lambda: Execution.objects.filter(status="Pending").count())
    result.figures["pending_left"] = pending
    result.check(pending == 0, f"{pending} rows stuck Pending")
    runs = marker_runs(marker)
    result.check(max(runs.values(), default=1) == 1, "an execution ran twice")
    return result


# --- 2. Redis stopped ----------------------------------------------------------------------------


def admin_login(base: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/admin/login/", timeout=30)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/admin/"},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=30,
    )
    response.raise_for_status()
    return browser


def stream_logs(stack: Stack, execution_id: str, timeout: float) -> tuple[list[int], bool]:
    """Follow ws/executions/<id>/ until is_complete: (sequences received, completed)."""
    import websocket

    url = stack.ws_base_url.replace("http", "ws") + f"/ws/executions/{execution_id}/?token={stack.token()}"
    ws = websocket.create_connection(url, timeout=timeout)
    sequences: list[int] = []
    completed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not completed:
            ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = json.loads(ws.recv())
            except (websocket.WebSocketException, ValueError, OSError):  # timeout, closed by the server
                break
            for item in message if isinstance(message, list) else [message]:
                if item.get("type") == "log":
                    sequences.append(item["sequence"])
                elif item.get("type") in ("logs", "backfill"):
                    sequences.extend(line["sequence"] for line in item.get("lines", []))
                if item.get("type") == "status" and item.get("is_complete"):
                    completed = True
    finally:
        ws.close()
    return sequences, completed


def scenario_redis(stack: Stack, quick: bool, result: Result) -> Result:
    from executions.models import ExecutionLog

    ensure_up(stack, workers=1, concurrency=2)
    base = stack.base_url
    session = stack.session()
    # a log stream first: the web's channel-layer pool then holds connections that the kill closes
    warm = submit(session, base, "fault_sleep", {"seconds": 0.5, "lines": 2})
    _, warm_completed = stream_logs(stack, warm.json()["execution_id"], timeout=60)
    result.check(warm_completed, "log stream before Redis was killed did not complete")
    stack.redis.kill(signal.SIGKILL)
    try:
        health = session.get(f"{base}/health", timeout=30)
        body = health.json()
        result.figures["health"] = f"{health.status_code} {body['status']}"
        result.check(
            health.status_code == 200 and body["status"] == "degraded" and body["checks"]["redis"]["status"] == "down",
            f"/health with Redis down: {health.status_code} {body}",
        )
        # auth and lists
        started = time.monotonic()
        try:
            fresh = stack.session()
            login_ok = True
        except requests.RequestException as exc:
            login_ok = False
            result.failures.append(f"login with Redis down: {exc}")
            fresh = session
        result.figures["login_s"] = round(time.monotonic() - started, 2)
        pages = {}
        for path in ("/api/executions", "/api/workflows", "/api/organizations", "/api/users", "/auth/me"):
            pages[path] = fresh.get(f"{base}{path}", timeout=30).status_code
        try:
            browser = admin_login(base)
            for path in ("/admin/", "/admin/executions/execution/", "/admin/accounts/user/"):
                pages[path] = browser.get(f"{base}{path}", timeout=30).status_code
        except Exception as exc:
            result.failures.append(f"admin login with Redis down: {type(exc).__name__}: {exc}")
        result.figures["pages"] = pages
        result.check(login_ok and all(code == 200 for code in pages.values()), f"pages with Redis down: {pages}")

        # executions still run and their logs are stored
        n = 3 if quick else 10
        lines = 5
        ids = []
        codes = Counter()
        for _ in range(n):
            response = submit(fresh, base, "fault_sleep", {"seconds": 0.5, "lines": lines})
            codes[response.status_code] += 1
            if response.status_code == 202:
                ids.append(response.json()["execution_id"])
        sync_started = time.monotonic()
        sync = submit(fresh, base, "fault_sync", {}, timeout=60)
        result.figures["sync_execute"] = f"{sync.status_code} in {time.monotonic() - sync_started:.1f}s"
        result.check(
            sync.status_code in (200, 202), f"sync execute with Redis down: {sync.status_code} {sync.text[:200]}"
        )
        if sync.status_code in (200, 202):
            ids.append(sync.json()["execution_id"])
        result.check(codes == Counter({202: n}), f"async submissions with Redis down: {dict(codes)}")
        final = wait_finished(ids, timeout=120)
        result.figures["executions"] = count_by_status(final)
        result.check(
            len(final) == len(ids) and all(s == "Success" for s, _ in final.values()),
            f"executions with Redis down: {count_by_status(final)}",
        )
        stored = db(
            lambda: Counter(ExecutionLog.objects.filter(execution_id__in=ids).values_list("execution_id", flat=True))
        )
        short = [i for i in ids[:n] if stored.get(uuid.UUID(i), 0) < lines]
        result.figures["log_lines_stored"] = sum(stored.values())
        result.check(not short, f"{len(short)} executions lost log lines while Redis was down")
    finally:
        stack.redis.start()

    # streaming resumes when Redis returns
    time.sleep(1)
    health = session.get(f"{base}/health", timeout=30).json()
    result.check(health["status"] == "healthy", f"/health after Redis returned: {health['status']}")
    sync = submit(session, base, "fault_sync", {}, timeout=60)
    result.figures["sync_after"] = f"{sync.status_code} {sync.json().get('status')}"
    result.check(
        sync.status_code == 200 and sync.json()["status"] == "Success", f"sync after Redis returned: {sync.text[:200]}"
    )
    response = submit(session, base, "fault_sleep", {"seconds": 4, "lines": 8})
    execution_id = response.json()["execution_id"]
    # the first socket streams to the end, without reconnecting (it died on a stale pooled connection before)
    sequences, completed = stream_logs(stack, execution_id, timeout=60)
    result.figures["streamed_lines"] = len(set(sequences))
    result.check(
        completed and len(set(sequences)) >= 8,
        f"first log stream after Redis returned: {len(sequences)} lines, complete={completed}",
    )
    return result


# --- 3. PostgreSQL restarted mid-run -------------------------------------------------------------


def scenario_postgres(stack: Stack, quick: bool, result: Result) -> Result:
    ensure_up(stack, workers=2, concurrency=3)
    base = stack.base_url
    session = stack.session()
    marker = stack.base / "marker-pg"
    marker.mkdir(exist_ok=True)
    n = 6 if quick else 12
    ids = []
    for _ in range(n):
        response = submit(session, base, "fault_sleep", {"seconds": 6, "lines": 12, "marker_dir": str(marker)})
        ids.append(response.json()["execution_id"])
    wait_until(lambda: len(marker_runs(marker)) >= 4, 60, "executions to start running")
    running_before = sum(1 for s, _ in statuses(ids).values() if s == "Running")
    result.figures["running_at_restart"] = running_before
    restart_started = time.monotonic()
    stack.pg.stop()
    time.sleep(3 if quick else 5)  # down for a few seconds, as a real restart or fail-over is
    stack.pg.start()
    result.figures["pg_down_s"] = round(time.monotonic() - restart_started, 1)

    # the web reconnects by itself: every request after the restart is answered
    codes = Counter()
    for _ in range(10):
        try:
            codes[session.get(f"{base}/api/executions?limit=5", timeout=30).status_code] += 1
        except requests.RequestException as exc:
            codes[type(exc).__name__] += 1
    health = session.get(f"{base}/health", timeout=30).json()
    result.figures["web_after_restart"] = dict(codes)
    result.check(codes == Counter({200: 10}), f"web after the restart: {dict(codes)}")
    result.check(health["status"] == "healthy", f"/health after the restart: {health}")

    # everything that was submitted ends in a definite status
    final = wait_finished(ids, timeout=120)
    if unfinished(final, ids):
        result.figures["cleanup"] = cleanup_stuck()
        final = statuses(ids)
    result.figures["mid_run"] = count_by_status(final)
    stuck = unfinished(final, ids)
    result.check(not stuck, f"{len(stuck)} executions not in a definite status: {[final.get(i) for i in stuck][:3]}")
    runs = marker_runs(marker)
    result.check(max(runs.values(), default=1) == 1, "an execution ran twice")
    from executions.models import ExecutionLog

    stored = db(
        lambda: Counter(
            ExecutionLog.objects.filter(execution_id__in=ids, message__startswith="line ").values_list(
                "execution_id", flat=True
            )
        )
    )
    succeeded = [i for i in ids if final.get(i, ("",))[0] == "Success"]
    short = [i for i in succeeded if stored.get(uuid.UUID(i), 0) != 12]
    result.figures["log_lines_stored"] = sum(stored.values())
    result.check(not short, f"{len(short)} successful executions lost workflow log lines across the restart")

    # the workers reconnect by themselves: new submissions run
    after = []
    for _ in range(6):
        after.append(submit(session, base, "fault_sleep", {"seconds": 0.2, "lines": 2}).json()["execution_id"])
    final_after = wait_finished(after, timeout=60)
    result.figures["after_restart"] = count_by_status(final_after)
    result.check(
        all(s == "Success" for s, _ in final_after.values()) and len(final_after) == len(after),
        f"executions after the restart: {count_by_status(final_after)}",
    )
    for worker in stack.workers:
        result.check(worker.alive(), f"{worker.name} died")
    return result


# --- 4. A worker killed with SIGKILL during 100 concurrent executions ---------------------------


def _kill_run(stack: Stack, result: Result, kind: str, n: int) -> None:
    base = stack.base_url
    marker = stack.base / f"marker-kill-{kind}"
    marker.mkdir(exist_ok=True)
    worker = stack.workers[0]
    session = stack.session()

    def one(_):
        own = requests.Session()
        own.headers.update(session.headers)
        response = submit(own, base, "fault_sleep", {"seconds": 1.5, "lines": 3, "marker_dir": str(marker)})
        return response.status_code, response.json().get("execution_id")

    with ThreadPoolExecutor(max_workers=20) as pool:
        submitted = list(pool.map(one, range(n)))
    ids = [i for code, i in submitted if code == 202]
    result.check(len(ids) == n, f"{kind}: only {len(ids)}/{n} submissions accepted")
    wait_until(lambda: len(marker_runs(marker)) >= n // 4, 120, f"{kind}: a quarter of the executions to start")
    running = {i for i, (s, _) in statuses(ids).items() if s == "Running"}
    if kind == "main":
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)
        killed = 1
        time.sleep(2)
        stack.workers.remove(worker)
        worker.stop()  # the orphaned pool children go too (their process group)
        stack.start_worker(worker.name + "b", concurrency=8)
    else:
        # kill the pool children running two of the executions
        lines = (marker / "runs.txt").read_text().splitlines()
        pids = {int(line.split()[1]) for line in lines if line.split()[0] in running}
        victims = [p for p in worker.children() if p in pids][:2]
        for pid in victims:
            import os

            os.kill(pid, signal.SIGKILL)
        killed = len(victims)
        result.check(killed > 0, "child: found no pool child running an execution")
    final = wait_finished(ids, timeout=240)
    cleaned = {}
    if unfinished(final, ids):
        cleaned = cleanup_stuck()
        final = statuses(ids)
    runs = marker_runs(marker)
    twice = [i for i, c in runs.items() if c > 1]
    stuck = unfinished(final, ids)
    counts = count_by_status(final)
    success = sum(1 for s, _ in final.values() if s == "Success")
    result.figures[f"{kind}_killed"] = killed
    result.figures[f"{kind}_running_at_kill"] = len(running)
    result.figures[f"{kind}_final"] = counts
    if cleaned:
        result.figures[f"{kind}_cleanup"] = cleaned
    result.check(not stuck, f"{kind}: {len(stuck)} executions not in a definite status")
    result.check(not twice, f"{kind}: {len(twice)} executions ran twice")
    not_run = [i for i in ids if final[i][0] == "Success" and runs.get(i, 0) != 1]
    result.check(not not_run, f"{kind}: {len(not_run)} Success rows without exactly one run")
    result.check(
        success >= n - len(running),
        f"{kind}: only {success} Success; {n - len(running)} were not running at the kill and should finish",
    )
    lost_not_running = [i for i in ids if i not in running and final[i][0] != "Success"]
    result.check(not lost_not_running, f"{kind}: {len(lost_not_running)} executions that were not running failed")


def scenario_worker_kill(stack: Stack, quick: bool, result: Result) -> Result:
    n = 40 if quick else 100
    ensure_up(stack, workers=1, concurrency=8)
    _kill_run(stack, result, "main", n)
    ensure_up(stack, workers=1, concurrency=8)
    _kill_run(stack, result, "child", n)
    return result


# --- 5. Many concurrent clients submitting and polling ------------------------------------------


# Overrides from the command line (run.py --load-clients / --load-seconds).
LOAD_OPTIONS: dict[str, int] = {}
# A load-shedding answer: the client is told to come back (issue 18, item 18).
SHED_STATUSES = (429, 503)


def scenario_load(stack: Stack, quick: bool, result: Result) -> Result:
    """Clients submit and poll; every request must get an answer: a 2xx, or a 429/503 with Retry-After (then the
    client waits that long and tries again). A refused or reset connection, a timeout or any other status fails."""
    clients = LOAD_OPTIONS.get("clients") or (20 if quick else 200)
    duration = LOAD_OPTIONS.get("seconds") or (15 if quick else 60)
    ensure_up(stack, workers=2, concurrency=2)
    base = stack.base_url
    headers = dict(stack.session().headers)
    post_lat: list[float] = []
    get_lat: list[float] = []
    errors: Counter = Counter()
    shed: Counter = Counter()
    accepted: list[str] = []
    end_to_end: list[float] = []
    lock = threading.Lock()
    start_barrier = threading.Barrier(clients)
    t_end = [0.0]

    def shed_wait(response, label: str) -> bool:
        """True (after waiting Retry-After) when the response is a load-shedding answer."""
        retry_after = response.headers.get("Retry-After", "")
        if response.status_code in SHED_STATUSES and retry_after.strip().isdigit():
            with lock:
                shed[f"{label} {response.status_code}"] += 1
            time.sleep(min(float(retry_after), 5.0))
            return True
        return False

    def client():
        own = requests.Session()
        own.headers.update(headers)
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        own.mount("http://", adapter)
        start_barrier.wait(timeout=60)
        while time.monotonic() < t_end[0]:
            t0 = time.perf_counter()
            try:
                response = own.post(f"{base}/api/workflows/fault_noop/execute", json={"parameters": {}}, timeout=60)
            except requests.RequestException as exc:
                with lock:
                    errors[f"POST {type(exc).__name__}"] += 1
                continue
            elapsed = time.perf_counter() - t0
            if shed_wait(response, "POST"):
                continue
            with lock:
                post_lat.append(elapsed)
                if response.status_code != 202:
                    errors[f"POST {response.status_code}"] += 1
                    continue
                execution_id = response.json()["execution_id"]
                accepted.append(execution_id)
            submitted = t0
            while time.monotonic() < t_end[0] + 30:
                time.sleep(0.5)
                t1 = time.perf_counter()
                try:
                    poll = own.get(f"{base}/api/executions/{execution_id}", timeout=60)
                except requests.RequestException as exc:
                    with lock:
                        errors[f"GET {type(exc).__name__}"] += 1
                    continue
                if shed_wait(poll, "GET"):
                    continue
                with lock:
                    get_lat.append(time.perf_counter() - t1)
                    if poll.status_code != 200:
                        errors[f"GET {poll.status_code}"] += 1
                        continue
                if poll.json()["status"] in ("Success", "Failed", "CompletedWithErrors", "Timeout", "Cancelled"):
                    with lock:
                        end_to_end.append(time.perf_counter() - submitted)
                    break

    t_end[0] = time.monotonic() + duration + 5  # +5: the barrier start
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    wall = time.monotonic() - started
    alive = sum(1 for t in threads if t.is_alive())
    final = wait_finished(accepted, timeout=180)
    lost = unfinished(final, accepted)
    requests_total = len(post_lat) + len(get_lat)
    result.figures.update(
        web=stack.web_mode if stack.web_mode == "daphne" else f"{stack.web_mode} (granian x{stack.web_workers})",
        clients=clients,
        duration_s=duration,
        requests=requests_total,
        req_per_s=round(requests_total / max(wall, 1e-9), 1),
        executions=len(accepted),
        exec_per_s=round(len(accepted) / max(wall, 1e-9), 1),
        post_p50_ms=round(percentile(post_lat, 50) * 1000),
        post_p99_ms=round(percentile(post_lat, 99) * 1000),
        get_p50_ms=round(percentile(get_lat, 50) * 1000),
        get_p99_ms=round(percentile(get_lat, 99) * 1000),
        all_p99_ms=round(percentile(post_lat + get_lat, 99) * 1000),
        end_to_end_p50_ms=round(percentile(end_to_end, 50) * 1000),
        end_to_end_p99_ms=round(percentile(end_to_end, 99) * 1000),
        errors=dict(errors),
        shed_with_retry_after=dict(shed),
        final=count_by_status(final),
    )
    if post_lat:
        result.figures["post_mean_ms"] = round(statistics.mean(post_lat) * 1000)
    result.check(not errors, f"requests without an answer or with a wrong one: {dict(errors)}")
    result.check(alive == 0, f"{alive} client threads did not finish")
    result.check(not lost, f"{len(lost)} accepted executions never finished")
    result.check(all(s == "Success" for s, _ in final.values()), f"not all Success: {count_by_status(final)}")
    result.check(len(accepted) > 0, "nothing was accepted")
    return result


SCENARIOS = {
    "rabbitmq": scenario_rabbitmq,
    "redis": scenario_redis,
    "postgres": scenario_postgres,
    "worker-kill": scenario_worker_kill,
    "load": scenario_load,
}
