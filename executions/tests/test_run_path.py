"""The run path's behaviour: the claim, transitions, task answers for sync waits (executions.answers),
async runs that ask for no answer, broadcasts in order, and a start that always judges by the current row."""

import asyncio
import datetime
import uuid

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions import events, transitions
from executions.engine import dbretry
from executions.engine.runner import ANSWER_MAX_RESULT_CHARS, task_answer
from executions.models import Execution, ExecutionStatus
from executions.services import _apply_task_answer, execution_start
from executions.tests.factories import ExecutionFactory
from workflows.tests.factories import WorkflowFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db


def _pending(**fields):
    return ExecutionFactory(status=S.PENDING, started_at=None, completed_at=None, duration_ms=None, **fields)


def test_the_claim_reads_organization_user_and_workflow():
    WorkflowFactory(name="hello_world", source_path="hello.py", timeout_seconds=90, retry_policy={"max_attempts": 2})
    execution = _pending()
    claim = transitions.claim_pending(execution.id, task_id="task-1")
    assert claim.execution.status == S.RUNNING and claim.execution.celery_task_id == "task-1"
    assert claim.execution.started_at is not None
    assert claim.organization == {"id": str(execution.organization.id), "name": execution.organization.name}
    user = execution.executed_by
    assert claim.user == {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "is_platform_admin": user.is_platform_admin,
    }
    assert claim.workflow["source_path"] == "hello.py"
    assert claim.workflow["timeout_seconds"] == 90 and claim.workflow["retry_policy"] == {"max_attempts": 2}
    assert transitions.claim_pending(execution.id, task_id="task-2") is None  # at most once


def test_a_claim_without_organization_user_or_registered_workflow_reads_none():
    execution = _pending(workflow_name="not_registered", organization=None, executed_by=None)
    claim = transitions.claim_pending(execution.id)
    assert (claim.organization, claim.user, claim.workflow) == (None, None, None)
    assert transitions.read_claim(execution.id).execution.status == S.RUNNING


def test_a_transition_returns_the_row_as_stored():
    fields = {
        "result": {"nested": [1, "two", None], "ok": True},
        "result_type": "json",
        "error_type": "",
        "error_message": "",
        "variables": None,
    }
    plain, with_expression = _pending(), _pending()
    transitions.claim_pending(plain.id, task_id="a")
    transitions.claim_pending(with_expression.id, task_id="b")
    done = transitions.transition(plain.id, from_statuses={S.RUNNING}, to=S.SUCCESS, **fields)
    other = transitions.transition(
        with_expression.id, from_statuses={S.RUNNING}, to=S.SUCCESS, attempt=F("attempt") + 0, **fields
    )
    for returned in (done, other):
        stored = Execution.objects.get(id=returned.id)
        assert returned.result == stored.result == fields["result"]
        assert returned.variables is None and stored.variables is None
        assert returned.status == stored.status == S.SUCCESS
        assert returned.completed_at == stored.completed_at
        assert returned.duration_ms == stored.duration_ms
        assert returned.duration_ms == max(0, int((stored.completed_at - stored.started_at).total_seconds() * 1000))
        assert isinstance(returned.parameters, dict) and returned.organization_id == stored.organization_id
    assert transitions.transition(plain.id, from_statuses={S.RUNNING}, to=S.FAILED) is None  # lost the race


def test_a_finished_transition_keeps_a_given_completed_at():
    execution = _pending()
    transitions.claim_pending(execution.id)
    when = timezone.now() + datetime.timedelta(seconds=3)
    done = transitions.transition(execution.id, from_statuses={S.RUNNING}, to=S.FAILED, completed_at=when)
    assert done.completed_at == when and 2900 <= done.duration_ms <= 3100


def test_a_task_answer_carries_the_finished_fields_unless_the_result_is_large():
    execution = _pending()
    transitions.claim_pending(execution.id)
    small = transitions.transition(execution.id, from_statuses={S.RUNNING}, to=S.SUCCESS, result={"n": 1})
    answer = task_answer(small)
    assert answer["execution"] == {
        "status": S.SUCCESS,
        "result": {"n": 1},
        "result_type": small.result_type,
        "duration_ms": small.duration_ms,
        "error_type": "",
        "error_message": "",
    }
    row = Execution(id=execution.id, status=S.PENDING)
    assert _apply_task_answer(row, answer) and row.status == S.SUCCESS and row.result == {"n": 1}

    small.result = {"text": "x" * (ANSWER_MAX_RESULT_CHARS + 1)}
    assert task_answer(small) == {"status": S.SUCCESS}  # the waiter reads the row instead
    assert not _apply_task_answer(row, task_answer(small))
    assert not _apply_task_answer(row, {"status": S.PENDING, "attempt": 2})  # a retry re-queued it
    assert task_answer(None) == {"status": None}


@pytest.mark.parametrize(("mode", "awaited"), [("sync", True), ("async", False)])
def test_only_an_awaited_run_asks_for_an_answer(monkeypatch, django_capture_on_commit_callbacks, mode, awaited):
    published = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: published.append(kw))
    WorkflowFactory(name="either", execution_mode=mode)
    with django_capture_on_commit_callbacks(execute=True):
        execution_start(workflow_name="either", parameters={}, trigger="manual")
    assert published[0]["awaited"] is awaited


def test_run_workflow_sync_mode_overrides_an_async_workflow(monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: published.append(kw))
    WorkflowFactory(name="later", execution_mode="async")
    with django_capture_on_commit_callbacks(execute=True):
        started = execution_start(workflow_name="later", parameters={}, trigger="manual", mode="sync")
    assert started.mode == "sync" and published[0]["awaited"] is True


@pytest.mark.django_db(transaction=True)  # retry_db never retries inside an atomic block
def test_the_first_retry_after_a_dead_connection_is_immediate(monkeypatch, settings):
    settings.ENGINE_DB_RETRY_SECONDS = 5
    slept, calls = [], []
    monkeypatch.setattr(dbretry.time, "sleep", slept.append)

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "ok"

    assert dbretry.retry_db(flaky, what="testing") == "ok"
    assert slept == [0.2]  # attempt 1 -> 2 at once, attempt 2 -> 3 after the first delay


@pytest.fixture
def fresh_channel_layer():
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


def _receive_all(layer, channel, count: int, timeout: float = 10) -> list:
    async def receive():
        return [await asyncio.wait_for(layer.receive(channel), timeout=timeout) for _ in range(count)]

    return asyncio.run(receive())


def _status(name: str) -> dict:
    return {"type": "execution.status", "status": {"status": name}}


def test_emit_reaches_group_members_in_order_and_ignores_empty_groups(fresh_channel_layer):
    layer = fresh_channel_layer
    watched, empty = f"execution.{uuid.uuid4()}", f"execution.{uuid.uuid4()}"
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add(watched, channel))
    try:
        events.emit([(empty, _status("Running")), (watched, _status("Running"))])
        events.emit([(watched, _status("Success"))])
        received = _receive_all(layer, channel, 2)
    finally:
        asyncio.run(layer.group_discard(watched, channel))
    assert [message["status"]["status"] for message in received] == ["Running", "Success"]


def test_emit_swallows_a_broadcast_failure(monkeypatch, caplog):
    class Broken:
        async def group_send(self, group, event):
            raise ConnectionError("redis down")

    monkeypatch.setattr(events, "get_channel_layer", lambda: Broken())
    events.emit([("execution.x", _status("Running"))])  # no exception: clients backfill from the database
    assert "could not broadcast to execution.x" in caplog.text


def test_an_answer_waits_in_redis_for_its_caller_and_expires():
    from executions import answers

    task_id = f"t-{uuid.uuid4()}"
    assert answers.wait_answer(task_id, timeout=0.05) is None
    answers.push_answer(task_id, {"status": S.SUCCESS, "execution": {"status": S.SUCCESS, "result": [1, "a"]}})
    ttl = redis.Redis.from_url(settings.REDIS_RESULTS_URL).ttl(answers.answer_key(task_id))
    assert 0 < ttl <= answers.ANSWER_TTL_SECONDS
    assert answers.wait_answer(task_id, timeout=1) == {
        "status": S.SUCCESS,
        "execution": {"status": S.SUCCESS, "result": [1, "a"]},
    }
    assert answers.wait_answer(task_id, timeout=0.05) is None  # popped: each answer is read once


def test_the_run_task_answers_even_when_the_engine_fails(monkeypatch):
    from executions import answers, tasks

    def broken(execution_id, **kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr("executions.engine.runner.execute", broken)
    task_id = f"t-{uuid.uuid4()}"
    result = tasks.run_execution_task.apply(args=[str(uuid.uuid4())], kwargs={"answer": True}, task_id=task_id)
    assert isinstance(result.result, RuntimeError)
    assert answers.wait_answer(task_id, timeout=1) == {"status": None}  # the caller then reads the row


def test_a_sync_wait_returns_on_the_answer_and_falls_back_to_the_row(settings):
    from executions import answers
    from executions.services import StartedExecution, execution_await

    settings.SYNC_ANSWER_POLL_SECONDS = 0.1
    answered = _pending(celery_task_id=f"t-{uuid.uuid4()}")
    answers.push_answer(
        answered.celery_task_id,
        {"status": S.SUCCESS, "execution": {"status": S.SUCCESS, "result": {"ok": 1}, "result_type": "json"}},
    )
    with CaptureQueriesContext(connection) as queries:
        row = execution_await(StartedExecution(answered, "sync", timeout_seconds=5))
    assert row.status == S.SUCCESS and row.result == {"ok": 1} and len(queries) == 0

    silent = _pending(celery_task_id=f"t-{uuid.uuid4()}")  # its worker was lost: no answer ever comes
    Execution.objects.filter(id=silent.id).update(status=S.FAILED, error_type="WorkerLost")
    row = execution_await(StartedExecution(silent, "sync", timeout_seconds=5))
    assert row.status == S.FAILED and row.error_type == "WorkerLost"


# --- starting a run: always judged by the workflow's current row ---


def _start(name, parameters=None):
    return execution_start(workflow_name=name, parameters=parameters or {}, trigger="manual")


def test_a_changed_definition_is_used_by_the_next_start():
    from rest_framework.exceptions import NotFound, ValidationError

    from bifrost_site.api.errors import ConflictError
    from workflows.models import Workflow

    WorkflowFactory(name="kept_two", parameters=[{"name": "n", "type": "int"}], timeout_seconds=60)
    _start("kept_two", {"n": "1"})
    before = Execution.objects.count()

    Workflow.objects.filter(name="kept_two").update(parameters=[{"name": "m", "type": "string", "required": True}])
    with pytest.raises(ValidationError) as error:
        _start("kept_two", {"n": "1"})
    assert set(error.value.detail) == {"n", "m"}  # judged by the row: n is unknown now, m is required
    started = _start("kept_two", {"m": "x"})
    assert Execution.objects.get(id=started.execution.id).parameters == {"m": "x"}

    Workflow.objects.filter(name="kept_two").update(timeout_seconds=90, execution_mode="sync")
    started = _start("kept_two", {"m": "x"})
    assert (started.timeout_seconds, started.mode) == (90, "sync")

    Workflow.objects.filter(name="kept_two").update(is_available=False, import_error="SyntaxError")
    with pytest.raises(ConflictError):
        _start("kept_two", {"m": "x"})
    Workflow.objects.filter(name="kept_two").update(is_available=True)
    _start("kept_two", {"m": "x"})
    Workflow.objects.filter(name="kept_two").delete()
    with pytest.raises(NotFound):
        _start("kept_two", {"m": "x"})
    assert Execution.objects.count() == before + 3


def test_finish_running_updates_the_claimed_row_in_one_statement_as_stored():
    from workflows.models import WorkflowVersion

    workflow = WorkflowFactory(name="hello_world")
    version = WorkflowVersion.objects.create(workflow=workflow, source_hash="abc", source="x = 1", source_path="h.py")
    claim = transitions.claim_pending(_pending(workflow_name="hello_world").id)
    with CaptureQueriesContext(connection) as queries:
        finished = transitions.finish_running(
            claim.execution,
            S.SUCCESS,
            version=(workflow.id, "abc"),
            result={"ok": [1, "é"]},
            result_type="dict",
            variables={"x": "1"},
            cpu_ms=7,
        )
    assert finished is claim.execution
    assert len(queries) == 1, [q["sql"] for q in queries]
    stored = Execution.objects.get(id=finished.id)
    for name in ("status", "result", "result_type", "variables", "cpu_ms", "duration_ms", "completed_at",
                 "error_type", "error_message", "workflow_version_id"):  # fmt: skip
        assert getattr(finished, name) == getattr(stored, name), name
    assert stored.status == S.SUCCESS and stored.workflow_version_id == version.id and stored.duration_ms >= 0
    assert stored.result == {"ok": [1, "é"]} and stored.cpu_ms == 7


def test_finish_running_stores_null_results_and_an_unknown_version_as_null():
    claim = transitions.claim_pending(_pending(workflow_name="gone").id)
    finished = transitions.finish_running(
        claim.execution, S.FAILED, version=(uuid.uuid4(), "nope"), error_type="ValueError", error_message="bad"
    )
    stored = Execution.objects.get(id=finished.id)
    assert (stored.result, stored.variables, stored.workflow_version_id) == (None, None, None)
    assert (stored.error_type, stored.error_message) == ("ValueError", "bad")


def test_finish_running_does_nothing_once_the_run_left_running():
    claim = transitions.claim_pending(_pending().id)
    transitions.transition(claim.execution.id, from_statuses={S.RUNNING}, to=S.CANCELLING)
    assert transitions.finish_running(claim.execution, S.SUCCESS) is None
    assert Execution.objects.get(id=claim.execution.id).status == S.CANCELLING
    with pytest.raises(transitions.IllegalTransition):
        transitions.finish_running(claim.execution, S.PENDING)
    with pytest.raises(TypeError, match="attempt"):
        transitions.finish_running(claim.execution, S.SUCCESS, attempt=3)


def test_a_delayed_running_event_is_dropped_when_the_final_status_comes_first(
    fresh_channel_layer, monkeypatch, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    execution, slow = _pending(), _pending()
    channel = asyncio.run(layer.new_channel())
    groups = [events.execution_group(execution.id), events.execution_group(slow.id)]
    for group in groups:
        asyncio.run(layer.group_add(group, channel))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            claim = transitions.claim_pending(execution.id)  # Running: sent only if it lasts the delay
            transitions.finish_running(claim.execution, S.SUCCESS)
        received = _receive_all(layer, channel, 1)
        monkeypatch.setattr(events, "RUNNING_EVENT_DELAY_SECONDS", 0.05)
        with django_capture_on_commit_callbacks(execute=True):
            slow_claim = transitions.claim_pending(slow.id)
        late = _receive_all(layer, channel, 1)  # the delay passed: Running arrives on its own
        with django_capture_on_commit_callbacks(execute=True):
            transitions.finish_running(slow_claim.execution, S.SUCCESS)
        late += _receive_all(layer, channel, 1)
    finally:
        for group in groups:
            asyncio.run(layer.group_discard(group, channel))
    assert [(m["status"]["execution_id"], m["status"]["status"]) for m in received] == [(str(execution.id), "Success")]
    assert [m["status"]["status"] for m in late] == ["Running", "Success"]
