"""The execution hot path (docs/performance.md section 7): the claim, transitions' kept SQL,
task answers for sync waits, ignored results for async runs, and broadcasts that skip empty groups."""

import asyncio
import datetime
import time
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


def test_the_claim_is_one_statement_and_reads_organization_user_and_workflow():
    WorkflowFactory(name="hello_world", source_path="hello.py", timeout_seconds=90, retry_policy={"max_attempts": 2})
    execution = _pending()
    with CaptureQueriesContext(connection) as queries:
        claim = transitions.claim_pending(execution.id, task_id="task-1")
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
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


def test_the_kept_sql_and_the_compiled_path_store_and_return_the_same_row():
    fields = {
        "result": {"nested": [1, "two", None], "ok": True},
        "result_type": "json",
        "error_type": "",
        "error_message": "",
        "variables": None,
    }
    fast, compiled = _pending(), _pending()
    transitions.claim_pending(fast.id, task_id="a")
    transitions.claim_pending(compiled.id, task_id="b")
    done = transitions.transition(fast.id, from_statuses={S.RUNNING}, to=S.SUCCESS, **fields)
    # an expression value takes Django's update compiler
    other = transitions.transition(
        compiled.id, from_statuses={S.RUNNING}, to=S.SUCCESS, attempt=F("attempt") + 0, **fields
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
    monkeypatch.setattr("executions.tasks.publish_run", lambda execution_id, **kw: published.append(kw))
    WorkflowFactory(name="either", execution_mode=mode)
    with django_capture_on_commit_callbacks(execute=True):
        execution_start(workflow_name="either", parameters={}, trigger="manual")
    assert published[0]["awaited"] is awaited


def test_run_workflow_sync_mode_overrides_an_async_workflow(monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("executions.tasks.publish_run", lambda execution_id, **kw: published.append(kw))
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


def test_broadcasts_reach_groups_with_members_and_skip_empty_ones(fresh_channel_layer):
    layer = fresh_channel_layer
    assert isinstance(layer, events.RedisChannelLayer)  # the test settings use the real Redis layer
    watched, empty = f"execution.{uuid.uuid4()}", f"execution.{uuid.uuid4()}"
    event = {"type": "execution.status", "status": {"status": "Running"}}

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(watched, channel)
        try:
            assert events._sends_with_members(layer, [(empty, event), (watched, event)]) == [(watched, event)]
            assert events._sends_with_members(layer, [(empty, event)]) == []
            events._group_send_many([(empty, event), (watched, event)])
            return await asyncio.wait_for(layer.receive(channel), timeout=10)
        finally:
            await layer.group_discard(watched, channel)

    assert asyncio.run(scenario())["status"] == {"status": "Running"}


def _receive_all(layer, channel, count: int, timeout: float = 10) -> list:
    async def receive():
        return [await asyncio.wait_for(layer.receive(channel), timeout=timeout) for _ in range(count)]

    return asyncio.run(receive())


@pytest.fixture
def watched_group(fresh_channel_layer, monkeypatch):
    monkeypatch.setattr(events, "_broadcaster", None)  # a broadcaster (and ticker) of this test's own
    layer = fresh_channel_layer
    group = f"execution.{uuid.uuid4()}"
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add(group, channel))
    yield layer, group, channel
    asyncio.run(layer.group_discard(group, channel))
    events.flush_broadcasts()


def _status(name: str) -> dict:
    return {"type": "execution.status", "status": {"status": name}}


def test_deferred_broadcasts_wait_for_the_flush_and_share_one_membership_check(watched_group, monkeypatch):
    layer, group, channel = watched_group
    checks = []
    real_filter = events._sends_with_members
    monkeypatch.setattr(
        events, "_sends_with_members", lambda lay, sends: checks.append(len(sends)) or real_filter(lay, sends)
    )
    monkeypatch.setattr(events, "DEFER_TICK_SECONDS", 30)  # only the flush drains here
    events.defer_broadcasts()
    events._group_send_many([(group, _status("Running")), (f"execution.{uuid.uuid4()}", _status("Running"))])
    events._group_send_many([(group, _status("Success"))])
    assert checks == []  # the calling thread did not touch Redis
    events.flush_broadcasts()
    assert checks == [3]  # both calls, one pipelined check
    received = _receive_all(layer, channel, 2)
    assert [message["status"]["status"] for message in received] == ["Running", "Success"]
    # after the flush, sends are immediate again
    events._group_send_many([(group, _status("Cancelled"))])
    assert checks == [3, 1]
    assert _receive_all(layer, channel, 1)[0]["status"]["status"] == "Cancelled"


def test_a_deferred_broadcast_goes_out_on_its_own_during_a_long_run(watched_group, monkeypatch):
    layer, group, channel = watched_group
    monkeypatch.setattr(events, "DEFER_TICK_SECONDS", 0.05)
    events.defer_broadcasts()
    events._group_send_many([(group, _status("Running"))])
    # no flush: the ticker sends it while the "workflow" is still running
    assert _receive_all(layer, channel, 1, timeout=5)[0]["status"]["status"] == "Running"


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


def test_an_idle_ticker_sleeps_until_the_next_deferred_broadcast(watched_group, monkeypatch):
    layer, group, channel = watched_group
    monkeypatch.setattr(events, "DEFER_TICK_SECONDS", 0.02)
    monkeypatch.setattr(events, "TICKER_IDLE_TICKS", 2)
    events.defer_broadcasts()
    events._group_send_many([(group, _status("Running"))])
    assert _receive_all(layer, channel, 1, timeout=5)[0]["status"]["status"] == "Running"
    broadcaster = events._broadcaster
    deadline = time.monotonic() + 5
    while broadcaster._ticking.is_set():  # nothing more deferred: it stops waking up
        assert time.monotonic() < deadline, "the ticker never went idle"
        time.sleep(0.01)
    events._group_send_many([(group, _status("Success"))])  # wakes it
    assert _receive_all(layer, channel, 1, timeout=5)[0]["status"]["status"] == "Success"


# --- starting a run: the workflow's definition is kept per process, checked by the INSERT itself ---


def _start(name, parameters=None):
    return execution_start(workflow_name=name, parameters=parameters or {}, trigger="manual")


def test_a_second_start_is_one_statement():
    WorkflowFactory(name="kept_one", parameters=[{"name": "n", "type": "int", "required": True}])
    _start("kept_one", {"n": "1"})
    with CaptureQueriesContext(connection) as queries:
        started = _start("kept_one", {"n": "2"})
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert Execution.objects.get(id=started.execution.id).parameters == {"n": 2}


def test_a_changed_definition_is_read_again_before_anything_is_inserted():
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
    started = _start("kept_two", {"m": "x"})  # accepted by the row, though the kept definition rejected it
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
