"""Fixtures for the engine: a workspace of test workflows and a real prefork worker subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURE_WORKSPACE = Path(__file__).parent / "workspace_fixture"


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


def _queue_args() -> str:
    from bifrost_site import queues

    return ",".join(queues.queue_name(q) for q in queues.QUEUE_NAMES)


class PreforkWorker:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def prefork_worker(engine_workspace, tmp_path_factory, django_db_blocker):
    """`celery worker -P prefork -c 2` as a subprocess on this run's queues and the test database.

    Tests using it must be `transaction=True` so the worker sees their committed rows.
    """
    from django.db import connection

    from bifrost_site.celery import app
    from bifrost_site.tasks import ping_task

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    if not db_name.startswith("test_"):
        db_name = "test_" + db_name
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bifrost_site.test_settings",
        DATABASE_URL=f"postgres://postgres@localhost:5432/{db_name}",
        WORKSPACE_PATH=str(engine_workspace),
        WORKSPACE_WATCH="false",
        DISCOVER_ON_WORKER_START="false",
    )
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with app.connection_for_write() as conn:
        from bifrost_site import queues

        queues.declare_topology(conn)
    handle = open(log_path, "w")  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bifrost_site",
            "worker",
            "-P",
            "prefork",
            "-c",
            "2",
            "-Q",
            _queue_args(),
            # a node name of its own: a default `celery@host` would collide with any other worker on this host
            "-n",
            f"test-{os.environ.get('BIFROST_TEST_RUN_ID', 'run')}-{os.getpid()}@%h",
            "-l",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"prefork-{os.getpid()}@%h",
        ],
        cwd=str(Path(__file__).resolve().parents[2]),
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    worker = PreforkWorker(process, log_path)
    try:
        ping_task.apply_async(args=["ready"]).get(timeout=60)
        yield worker
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        handle.close()


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def colleague(org):
    """Another ORG user in the member's organization."""
    from accounts.tests.factories import UserFactory

    return UserFactory(organization=org, email="colleague@contoso.test")


@pytest.fixture
def executions_world(org, other_org, admin_user, member, colleague, outsider):
    """One execution per visibility case."""
    from executions.tests.factories import ExecutionFactory

    return {
        "mine": ExecutionFactory(organization=org, executed_by=member, workflow_name="mine"),
        "colleague": ExecutionFactory(organization=org, executed_by=colleague, workflow_name="colleague"),
        "other_org": ExecutionFactory(organization=other_org, executed_by=outsider, workflow_name="other_org"),
        "global": ExecutionFactory(organization=None, executed_by=admin_user, workflow_name="global_run"),
    }
