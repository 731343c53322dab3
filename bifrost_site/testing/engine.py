"""Real-engine test fixtures: a workspace of test workflows, a real prefork worker and a real beat.

Registered for the whole suite through `pytest_plugins` in the root conftest.py. Processes are
subprocesses with this run's settings (test database, queue prefix, Redis prefix), so they see
exactly what an operator's `celery worker` / `celery beat` would.

- `prefork_worker`: `celery worker -P prefork -c 2` on `engine_workspace`, one for the session
  (`session_workers`), restarted if a module stopped it to run its own.
- `start_prefork_worker(workspace)` / `start_beat()`: context managers for a module that needs a
  worker on another workspace (override `prefork_worker` in that module) or a beat process.
Tests using them must be `@pytest.mark.django_db(transaction=True)` so the processes see their rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_WORKSPACE = REPO_ROOT / "executions" / "tests" / "workspace_fixture"


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def _queue_args() -> str:
    from bifrost_site import queues

    return ",".join(queues.queue_name(q) for q in queues.QUEUE_NAMES)


def process_env(workspace: Path | None, django_db_blocker) -> dict:
    """The environment of a worker/beat subprocess: this run's test database and isolation prefixes."""
    from django.db import connection

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    if not db_name.startswith("test_"):
        db_name = "test_" + db_name
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bifrost_site.test_settings",
        DATABASE_URL=f"postgres://postgres@localhost:5432/{db_name}",
        WORKSPACE_WATCH="false",
        DISCOVER_ON_WORKER_START="false",
    )
    if workspace is not None:
        env["WORKSPACE_PATH"] = str(workspace)
    return env


class Process:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


PreforkWorker = Process  # the name earlier tests import


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _celery_process(arguments: list[str], env: dict, log_path: Path):
    """`celery -A bifrost_site <arguments>` from the repository root, output to `log_path`; stopped on exit."""
    with open(log_path, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bifrost_site", *arguments],
            cwd=str(REPO_ROOT),
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Process(process, log_path)
        finally:
            _stop(process)


@contextmanager
def start_prefork_worker(
    workspace: Path, log_dir: Path, django_db_blocker, *, concurrency: int = 2, env: dict | None = None
):
    """`celery worker -P prefork` on this run's queues, the test database and `workspace`; ready on enter."""
    from bifrost_site import queues
    from bifrost_site.celery import app
    from bifrost_site.tasks import ping_task

    env = {**process_env(workspace, django_db_blocker), **(env or {})}
    log_path = log_dir / "worker.log"
    with app.connection_for_write() as conn:
        queues.declare_topology(conn)
    with _celery_process(
        [
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-Q",
            _queue_args(),
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"prefork-{os.getpid()}-{log_dir.name}@%h",
        ],
        env,
        log_path,
    ) as worker:
        ping_task.apply_async(args=["ready"]).get(timeout=60)
        yield worker


@contextmanager
def start_beat(log_dir: Path, django_db_blocker, *, name: str = "beat"):
    """`celery beat` with the database scheduler (django-celery-beat), as the Procfile runs it."""
    env = process_env(None, django_db_blocker)
    log_path = log_dir / f"{name}.log"
    with _celery_process(
        [
            "beat",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "-l",
            "INFO",
            "--pidfile=",
            "-s",
            str(log_dir / f"{name}-schedule"),
        ],
        env,
        log_path,
    ) as beat:
        yield beat


@pytest.fixture(scope="session")
def engine_workspace(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("engine_workspace")
    shutil.copytree(FIXTURE_WORKSPACE, path, dirs_exist_ok=True)
    return path


@pytest.fixture
def discovered(engine_workspace, settings):
    """The test workflows registered (discovery run in-process, as `manage.py discover_workflows` does)."""
    settings.WORKSPACE_PATH = engine_workspace
    from workflows.services import discovery_run

    report = discovery_run(reason="test")
    assert not report["errors"], report["errors"]
    return report


class SessionWorkers:
    """The session's prefork worker on `engine_workspace`, started on first use.

    A module that needs a worker on another workspace calls `stop()` first (only one worker may
    consume this run's queues, or its jobs could land on the wrong workspace); the next test asking
    for `prefork_worker` starts the session worker again.
    """

    active: SessionWorkers | None = None  # the session's instance, so in-process workers can stop it

    def __init__(self, workspace: Path, log_root: Path, django_db_blocker) -> None:
        self.workspace, self.log_root, self.django_db_blocker = workspace, log_root, django_db_blocker
        self.current: Process | None = None
        self._context = None
        self.starts = 0
        SessionWorkers.active = self

    def ensure_running(self) -> Process:
        if self.current is None or self.current.process.poll() is not None:
            self.stop()
            self.starts += 1
            log_dir = self.log_root / f"worker-{self.starts}"
            log_dir.mkdir(parents=True, exist_ok=True)
            self._context = start_prefork_worker(self.workspace, log_dir, self.django_db_blocker)
            self.current = self._context.__enter__()
        return self.current

    def stop(self) -> None:
        if self._context is not None:
            context, self._context, self.current = self._context, None, None
            context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def session_workers(engine_workspace, tmp_path_factory, django_db_setup, django_db_blocker):
    workers = SessionWorkers(engine_workspace, tmp_path_factory.mktemp("worker"), django_db_blocker)
    try:
        yield workers
    finally:
        workers.stop()
        SessionWorkers.active = None


@pytest.fixture
def prefork_worker(session_workers) -> Process:
    """The real prefork worker (2 children) on `engine_workspace`, shared by the session."""
    return session_workers.ensure_running()
