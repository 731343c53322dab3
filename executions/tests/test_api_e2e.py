"""Cancel, rerun and the log WebSocket end to end: the real prefork worker, Redis channel layer and API."""

import pytest
from asgiref.sync import sync_to_async

from bifrost_site.testing.engine import wait_for
from conftest import client_for
from executions.models import Execution, ExecutionLog, ExecutionStatus
from executions.services import execution_start

S = ExecutionStatus
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
TIMEOUT = 20


def _finished(execution_id, timeout=30):
    return wait_for(
        lambda: (e := Execution.objects.get(id=execution_id)).is_complete and e,
        timeout=timeout,
        message=f"execution {execution_id} to finish",
    )


def test_cancel_endpoint_stops_a_running_workflow(prefork_worker, discovered, member, org):
    started = execution_start(
        workflow_name="t_wait", parameters={"seconds": 60}, trigger="manual", organization=org, user=member
    )
    execution_id = started.execution.id
    wait_for(lambda: ExecutionLog.objects.filter(execution_id=execution_id).exists(), message="the workflow to start")
    client = client_for(member)
    response = client.post(f"/api/executions/{execution_id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.CANCELLING
    execution = _finished(execution_id, timeout=20)
    assert (execution.status, execution.error_type) == (S.CANCELLED, "Cancelled")
    assert client.get(f"/api/executions/{execution_id}").json()["status"] == S.CANCELLED
    assert client.post(f"/api/executions/{execution_id}/cancel").status_code == 400


def test_rerun_of_a_sync_workflow_answers_200_with_the_result(prefork_worker, discovered, admin_user, org):
    first = client_for(admin_user, org).post(
        "/api/workflows/t_sync/execute", {"parameters": {"name": "ada", "count": 3}}, format="json"
    )
    assert first.status_code == 200, first.json()
    original = Execution.objects.get(id=first.json()["execution_id"])
    response = client_for(admin_user, org).post(f"/api/executions/{original.id}/rerun")
    # execution_rerun's StartedExecution.mode is the workflow's mode: sync is awaited like /execute
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == S.SUCCESS
    assert body["result"]["doubled"] == 6 and body["result"]["trigger"] == "rerun"
    rerun = Execution.objects.get(id=body["execution_id"])
    assert (rerun.rerun_of, rerun.trigger, rerun.parameters, rerun.organization, rerun.executed_by) == (
        original,
        "rerun",
        original.parameters,
        org,
        admin_user,
    )


def test_rerun_of_an_async_workflow_answers_202_then_runs(prefork_worker, discovered, admin_user):
    original = _finished(
        execution_start(workflow_name="t_async", parameters={}, trigger="manual", user=admin_user).execution.id
    )
    response = client_for(admin_user).post(f"/api/executions/{original.id}/rerun")
    assert response.status_code == 202, response.json()
    assert set(response.json()) == {"execution_id", "status", "code_changed"}  # rerun says whether the code changed
    assert _finished(response.json()["execution_id"]).status == S.SUCCESS


# --- WebSocket: the worker's lines through the real Redis channel layer ---


@pytest.fixture(scope="module")
def application():
    from bifrost_site.asgi import build_application

    return build_application()


async def open_socket(application, execution_id, user, after=None):
    from channels.testing import WebsocketCommunicator

    from accounts.services import tokens_issue

    token = (await sync_to_async(tokens_issue)(user=user)).access_token
    path = f"/ws/executions/{execution_id}/?token={token}" + (f"&after={after}" if after is not None else "")
    comm = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")]
    )
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    first = await comm.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "status"
    return comm


async def read(comm, *, until_complete=True, max_lines=None):
    """Log messages until the final status (or max_lines lines)."""
    lines = []
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "log":
            lines.append(message)
            if max_lines is not None and len(lines) >= max_lines:
                return lines, None
        elif message["type"] == "status" and message["is_complete"] and until_complete:
            return lines, message


def _start_slow(user, n=15, delay=0.1):
    return execution_start(
        workflow_name="t_slow_lines", parameters={"n": n, "delay": delay}, trigger="manual", user=user
    ).execution.id


def _expect(lines, n):
    sequences = [m["sequence"] for m in lines]
    assert sequences == list(range(1, len(sequences) + 1)), sequences  # gap-free, no duplicates, in order
    slow = [m["message"] for m in lines if m["message"].startswith("slow line")]
    assert slow == [f"slow line {i}" for i in range(n)]


async def test_socket_streams_every_line_of_a_real_run(prefork_worker, discovered, application, admin_user):
    execution_id = await sync_to_async(_start_slow)(admin_user)
    comm = await open_socket(application, execution_id, admin_user)
    lines, final = await read(comm)
    await comm.disconnect()
    assert final["status"] == S.SUCCESS
    _expect(lines, 15)
    stored = await sync_to_async(lambda: ExecutionLog.objects.filter(execution_id=execution_id).count())()
    assert stored == len(lines)


async def test_reconnect_with_the_last_sequence_misses_nothing(prefork_worker, discovered, application, admin_user):
    execution_id = await sync_to_async(_start_slow)(admin_user, n=20, delay=0.1)
    comm = await open_socket(application, execution_id, admin_user)
    head, _ = await read(comm, max_lines=5)
    await comm.disconnect()
    status = await sync_to_async(lambda: Execution.objects.get(id=execution_id).status)()
    assert status == S.RUNNING  # reconnecting in the middle of the run
    comm = await open_socket(application, execution_id, admin_user, after=head[-1]["sequence"])
    tail, final = await read(comm)
    await comm.disconnect()
    assert final["status"] == S.SUCCESS
    _expect(head + tail, 20)
