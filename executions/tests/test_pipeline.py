"""End to end on a real prefork worker (subprocess) with the real RabbitMQ, Redis and PostgreSQL."""

import time

import pytest

from bifrost_site.testing.services import cleanup_cache_keys
from conftest import client_for
from executions.models import Execution, ExecutionLog, ExecutionStatus
from executions.services import execution_await, execution_cancel, execution_start
from executions.tests.conftest import wait_for

S = ExecutionStatus
pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin(admin_user):
    return client_for(admin_user)


def _execute(client, name, parameters=None, **extra):
    return client.post(f"/api/workflows/{name}/execute", {"parameters": parameters or {}}, format="json", **extra)


def _finished(execution_id, timeout=30):
    return wait_for(
        lambda: (e := Execution.objects.get(id=execution_id)).is_complete and e,
        timeout=timeout,
        message=f"execution {execution_id} to finish",
    )


def _logs(execution_id):
    return list(ExecutionLog.objects.filter(execution_id=execution_id).order_by("sequence"))


def test_sync_execute_returns_result_logs_and_variables(prefork_worker, discovered, admin, org):
    response = _execute(admin, "t_sync", {"name": "Ann", "count": "4"}, HTTP_X_ORGANIZATION_ID=str(org.id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == S.SUCCESS
    assert body["result"] == {"name": "Ann", "doubled": 8, "scope": str(org.id), "trigger": "manual"}
    assert body["result_type"] == "json" and body["duration_ms"] is not None
    execution = Execution.objects.get(id=body["execution_id"])
    assert execution.organization == org and execution.attempt == 1
    assert execution.variables == {"name": "Ann", "count": 4, "email": None, "doubled": 8}
    lines = _logs(execution.id)
    assert [(line.level, line.message) for line in lines] == [("info", "hello Ann"), ("debug", "debug detail")]
    assert [line.sequence for line in lines] == [1, 2]


def test_async_execute_answers_202_then_runs(prefork_worker, discovered, admin):
    from orgs.models import Config

    Config.objects.create(key="greeting", value="hi there", config_type="string")
    response = _execute(admin, "t_async")
    assert response.status_code == 202
    assert set(response.json()) == {"execution_id", "status"}
    execution = _finished(response.json()["execution_id"])
    assert execution.status == S.SUCCESS
    assert (execution.result, execution.result_type) == ("<b>hi there</b>", "html")
    assert [line.message for line in _logs(execution.id)] == ["async line"]


@pytest.mark.parametrize(
    ("name", "status", "result", "result_type"),
    [
        ("t_text", S.SUCCESS, "plain text", "text"),
        ("t_none", S.SUCCESS, None, "none"),
        ("t_partial", S.COMPLETED_WITH_ERRORS, {"success": False, "failed": ["b"]}, "json"),
    ],
)
def test_result_typing(prefork_worker, discovered, admin, name, status, result, result_type):
    body = _execute(admin, name).json()
    assert (body["status"], body["result"], body["result_type"]) == (status, result, result_type)


def test_print_output_becomes_log_lines(prefork_worker, discovered, admin):
    body = _execute(admin, "t_none").json()
    assert [(x.level, x.message) for x in _logs(body["execution_id"])] == [
        ("info", "printed line"),
        ("info", "partial line joined"),
    ]


def test_user_error_visible_to_all_other_errors_only_to_admins(prefork_worker, discovered, admin):
    body = _execute(admin, "t_user_error").json()
    assert (body["status"], body["error_type"], body["error_message"]) == (
        S.FAILED,
        "UserError",
        "Mailbox quota exceeded",
    )
    assert not ExecutionLog.objects.filter(execution_id=body["execution_id"], level="traceback").exists()

    body = _execute(admin, "t_crash").json()
    assert body["status"] == S.FAILED
    assert body["error_type"] == "ValueError"
    assert body["error_message"] == "internal detail 42 (before the crash)"
    execution = Execution.objects.get(id=body["execution_id"])
    assert execution.variables == {"note": "before the crash"}
    traceback_line = ExecutionLog.objects.get(execution=execution, level="traceback")
    assert "ValueError: internal detail 42" in traceback_line.message and "wf_basic.py" in traceback_line.message
    assert "runner.py" not in traceback_line.message  # the engine's own frames are left out
    # Every line a customer user may see (not DEBUG/traceback) keeps the exception's text out.
    from executions.selectors import ADMIN_ONLY_LEVELS

    user_visible = [line.message for line in _logs(execution.id) if line.level not in ADMIN_ONLY_LEVELS]
    assert "An error occurred during execution" in user_visible
    assert not any("internal detail" in message or "ValueError" in message for message in user_visible)

    from executions.presenters import execution_run_payload

    class Member:
        is_platform_admin = False

    shown = execution_run_payload(execution, user=Member())
    assert (shown["error_type"], shown["error_message"]) == (None, "An error occurred during execution")


def test_secrets_are_masked_in_logs_result_and_variables(prefork_worker, discovered, admin, org):
    from secrets_app.models import Secret

    Secret.objects.create(name="api_token", value="GLOBAL-token-value-1234")
    Secret.objects.create(name="api_token", value="org-token-value-9876", organization=org)
    body = _execute(admin, "t_secret", HTTP_X_ORGANIZATION_ID=str(org.id)).json()
    assert body["status"] == S.SUCCESS
    assert body["result"] == {"token": "***", "suffix": "9876"}
    execution = Execution.objects.get(id=body["execution_id"])
    assert execution.variables["token"] == "***"
    messages = [line.message for line in _logs(execution.id)]
    assert messages == ["using ***", "print ***"]
    stored = str(list(ExecutionLog.objects.values_list("message", flat=True))) + str(execution.result)
    assert "token-value" not in stored


def test_thousands_of_lines_are_gap_free(prefork_worker, discovered, admin):
    body = _execute(admin, "t_many_lines", {"n": 3000}).json()
    assert body["status"] == S.SUCCESS
    sequences = list(ExecutionLog.objects.filter(execution_id=body["execution_id"]).values_list("sequence", flat=True))
    assert sorted(sequences) == list(range(1, 3001))
    assert ExecutionLog.objects.get(execution_id=body["execution_id"], sequence=3000).message == "line 2999"


def test_retry_policy_reruns_same_row_with_attempts(prefork_worker, discovered, admin, tmp_path):
    marker = tmp_path / "flaky.txt"
    response = _execute(admin, "t_flaky", {"marker": str(marker)})
    assert response.status_code in (200, 202)
    execution = _finished(response.json()["execution_id"])
    assert execution.status == S.SUCCESS and execution.attempt == 3
    assert execution.result == {"attempts": 3}
    assert marker.read_text().count("run") == 3
    retry_lines = [x.message for x in _logs(execution.id) if x.level == "warning"]
    assert len(retry_lines) == 2 and "retrying" in retry_lines[0]
    assert sorted(x.sequence for x in _logs(execution.id)) == list(range(1, len(_logs(execution.id)) + 1))


def test_retry_policy_gives_up_after_max_attempts(prefork_worker, discovered, admin, tmp_path):
    marker = tmp_path / "flaky.txt"
    response = _execute(admin, "t_flaky", {"marker": str(marker), "succeed_on": 9})
    execution = _finished(response.json()["execution_id"])
    assert (execution.status, execution.attempt, execution.error_type) == (S.FAILED, 3, "RuntimeError")
    assert marker.read_text().count("run") == 3


def test_soft_time_limit_ends_in_timeout(prefork_worker, discovered, admin):
    response = _execute(admin, "t_timeout")
    execution = _finished(response.json()["execution_id"], timeout=30)
    assert execution.status == S.TIMEOUT and execution.error_type == "Timeout"
    assert "timeout of 2s" in execution.error_message
    assert any(x.level == "error" and "timeout" in x.message for x in _logs(execution.id))


@pytest.mark.parametrize("name", ["t_wait", "t_busy", "t_async_wait"])
def test_cancel_interrupts_sleeping_and_busy_workflows(prefork_worker, discovered, admin_user, name):
    started = execution_start(workflow_name=name, parameters={}, trigger="manual", user=admin_user)
    execution_id = started.execution.id
    wait_for(lambda: ExecutionLog.objects.filter(execution_id=execution_id).exists(), message="the workflow to start")
    began = time.monotonic()
    cancelling = execution_cancel(execution=Execution.objects.get(id=execution_id), user=admin_user)
    assert cancelling.status == S.CANCELLING
    execution = _finished(execution_id, timeout=20)
    assert execution.status == S.CANCELLED
    assert time.monotonic() - began < 15


def test_poison_message_is_dead_lettered_and_marks_the_execution(prefork_worker, discovered, admin_user):
    from kombu import Producer

    from bifrost_site import queues
    from bifrost_site.celery import app

    # a Pending row whose only task message is undecodable
    poisoned = Execution.objects.create(workflow_name="t_wait", status=S.PENDING, executed_by_name="test")
    with app.connection_for_write() as connection:
        channel = connection.channel()
        channel.queue_purge(queues.dead_letter_name(queues.WORKFLOWS))
        work = queues.work_queue(queues.WORKFLOWS)
        Producer(channel).publish(
            b"{this is not json",
            exchange=work.exchange,
            routing_key=work.routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "executions.run_execution", "id": "poison-1", "argsrepr": f"('{poisoned.id}',)"},
        )
        dead = wait_for(
            lambda: channel.basic_get(queues.dead_letter_name(queues.WORKFLOWS), no_ack=True), message="dead letter"
        )
        body = dead.body.decode() if isinstance(dead.body, bytes) else dead.body
        assert "this is not json" in body
        channel.close()
    execution = _finished(poisoned.id)
    assert (execution.status, execution.error_type) == (S.FAILED, "PoisonMessage")
    # the line is written right after the status change commits
    wait_for(lambda: ExecutionLog.objects.filter(execution=execution, level="error").exists(), message="log line")


def test_data_provider_runs_in_worker_and_is_cached(prefork_worker, discovered, admin, tmp_path, org):
    marker = tmp_path / "calls.txt"
    payload = {"inputs": {"prefix": "x", "marker": str(marker)}}
    first = admin.post("/api/data-providers/t_options", payload, format="json")
    assert first.status_code == 200, first.content
    assert first.json() == {"options": [{"label": f"x{i}", "value": i} for i in range(3)], "cached": False}
    second = admin.post("/api/data-providers/t_options", payload, format="json")
    assert second.json()["cached"] is True
    assert marker.read_text().count("run") == 1
    # another organization is another cache entry
    other = admin.post("/api/data-providers/t_options", payload, format="json", HTTP_X_ORGANIZATION_ID=str(org.id))
    assert other.json()["cached"] is False
    assert marker.read_text().count("run") == 2
    cleanup_cache_keys()
    assert admin.post("/api/data-providers/t_options", payload, format="json").json()["cached"] is False


def test_execution_await_sync_via_service(prefork_worker, discovered, admin_user):
    started = execution_start(workflow_name="t_sync", parameters={}, trigger="manual", user=admin_user)
    execution = execution_await(started)
    assert execution.status == S.SUCCESS
