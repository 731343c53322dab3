"""Worker loss on a fresh prefork worker: SIGKILL of the child running a workflow."""

import os
import signal
import time

import pytest

from conftest import client_for
from executions.models import Execution, ExecutionStatus
from executions.services import execution_cancel, execution_start
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


def test_worker_loss_is_detected_after_earlier_cancels_in_the_same_worker(
    prefork_worker, discovered, admin_user, tmp_path
):
    """SIGUSR1 cancels (revoke terminate) in both children first, then a SIGKILLed child: still WorkerLost.

    billiard used to remember the cancel on the pool process, took the later death for that
    controlled termination and acked the message: the row stayed Running (see executions/engine/pool.py).
    """
    both = [
        execution_start(workflow_name=name, parameters={}, trigger="manual", user=admin_user).execution.id
        for name in ("t_wait", "t_busy")
    ]
    # both Running at once: one per child of the 2-process pool, so every child has been signalled
    wait_for(lambda: Execution.objects.filter(id__in=both, status=S.RUNNING).count() == 2, message="both to run")
    for execution_id in both:
        execution_cancel(execution=Execution.objects.get(id=execution_id), user=admin_user)
    for execution_id in both:
        assert _finished(execution_id).status == S.CANCELLED
    marker = tmp_path / "ran.txt"
    started = execution_start(
        workflow_name="t_wait", parameters={"seconds": 30, "marker": str(marker)}, trigger="manual", user=admin_user
    )
    wait_for(lambda: marker.exists(), message="the workflow to start")
    pid = int(marker.read_text().split()[1])
    assert pid in prefork_worker.child_pids()
    os.kill(pid, signal.SIGKILL)
    execution = _finished(started.execution.id, timeout=60)
    assert (execution.status, execution.error_type) == (S.FAILED, "WorkerLost")
    time.sleep(1)
    assert marker.read_text().count("run") == 1
    body = client_for(admin_user).post("/api/workflows/t_text/execute", {}, format="json").json()
    assert body["status"] == S.SUCCESS
