"""Worker loss on a fresh prefork worker: SIGKILL of the child running a workflow."""

import os
import signal
import time

import pytest

from conftest import client_for
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from executions.tests.conftest import wait_for

S = ExecutionStatus
pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _finished(execution_id, timeout=30):
    return wait_for(
        lambda: (e := Execution.objects.get(id=execution_id)).is_complete and e,
        timeout=timeout,
        message=f"execution {execution_id} to finish",
    )


def test_killed_worker_child_marks_worker_lost_and_never_runs_twice(prefork_worker, discovered, admin_user, tmp_path):
    marker = tmp_path / "ran.txt"
    started = execution_start(
        workflow_name="t_wait", parameters={"seconds": 30, "marker": str(marker)}, trigger="manual", user=admin_user
    )
    execution_id = started.execution.id
    wait_for(lambda: marker.exists(), message="the workflow to start")
    pid = int(marker.read_text().split()[1])
    assert pid in prefork_worker.child_pids()
    os.kill(pid, signal.SIGKILL)
    execution = _finished(execution_id, timeout=60)
    assert (execution.status, execution.error_type) == (S.FAILED, "WorkerLost")
    time.sleep(1)
    assert marker.read_text().count("run") == 1
    # the worker replaced its children and still works
    body = client_for(admin_user).post("/api/workflows/t_text/execute", {}, format="json").json()
    assert body["status"] == S.SUCCESS
