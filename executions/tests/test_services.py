"""Unit tests around the engine: start validation, broker down, presenter visibility, transitions, cleanup."""

import datetime
import time

import pytest
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from bifrost_site.api.errors import ApplicationError, ConflictError, ServiceUnavailableError
from conftest import client_for
from executions import transitions
from executions.models import Execution, ExecutionLog, ExecutionStatus
from executions.presenters import GENERIC_ERROR, execution_run_response
from executions.services import execution_cancel, execution_start, executions_cleanup_stuck
from executions.tests.factories import ExecutionFactory
from workflows.tests.factories import WorkflowFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db

PARAMS = [
    {"name": "count", "type": "int", "required": True, "validation": {"min": 1, "max": 5}},
    {"name": "email", "type": "email"},
    {"name": "when", "type": "date"},
]


@pytest.fixture
def no_publish(monkeypatch):
    published = []
    monkeypatch.setattr(
        "executions.services.publish_run", lambda execution_id, **kw: published.append((execution_id, kw))
    )
    return published


def test_unknown_workflow_is_404():
    with pytest.raises(NotFound):
        execution_start(workflow_name="nope", parameters={}, trigger="manual")


def test_unavailable_workflow_is_409():
    WorkflowFactory(name="gone", is_available=False, import_error="boom")
    with pytest.raises(ConflictError):
        execution_start(workflow_name="gone", parameters={}, trigger="manual")
    assert not Execution.objects.exists()


def test_every_bad_parameter_is_named():
    WorkflowFactory(name="typed", parameters=PARAMS)
    with pytest.raises(ValidationError) as info:
        execution_start(
            workflow_name="typed", parameters={"count": "x", "email": "nope", "when": "2024-13-01"}, trigger="manual"
        )
    assert set(info.value.detail) == {"count", "email", "when"}
    assert not Execution.objects.exists()


def test_execute_endpoint_400_names_fields(admin_client, no_publish):
    WorkflowFactory(name="typed", parameters=PARAMS)
    response = admin_client.post("/api/workflows/typed/execute", {"parameters": {"count": 9}}, format="json")
    assert response.status_code == 400
    assert (
        response.json()["details"] == {"count": ["Ensure this value is less than or equal to 5."]}
        or "count" in response.json()["details"]
    )


def test_start_coerces_and_creates_pending_row_published_after_commit(
    no_publish, django_capture_on_commit_callbacks, org, admin_user
):
    WorkflowFactory(name="typed", parameters=PARAMS, execution_mode="async", timeout_seconds=60)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = execution_start(
            workflow_name="typed",
            parameters={"count": "3", "when": "2024-02-01"},
            trigger="manual",
            organization=org,
            user=admin_user,
        )
    assert no_publish == []  # nothing before commit
    assert started.mode == "async"
    row = Execution.objects.get()
    assert row.status == S.PENDING and row.parameters == {"count": 3, "when": "2024-02-01"}
    assert row.executed_by_name == admin_user.email and row.organization == org
    for callback in callbacks:
        callback()
    assert no_publish[0][0] == row.id
    assert no_publish[0][1]["timeout_seconds"] == 60


def test_execute_is_for_platform_admins_only(member_client, api_client):
    WorkflowFactory(name="w")
    assert member_client.post("/api/workflows/w/execute", {}, format="json").status_code == 403
    assert api_client.post("/api/workflows/w/execute", {}, format="json").status_code == 401


@pytest.fixture
def broker_down():
    """Point publishing at a closed port (and put everything back afterwards)."""
    from bifrost_site.celery import app

    saved = app.conf.broker_write_url
    app.conf.broker_write_url = "amqp://guest:guest@127.0.0.1:1//"
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_write_url = saved
        app._pool, app.amqp._producer_pool = None, None


@pytest.mark.django_db(transaction=True)
def test_broker_down_answers_503_fast_and_fails_the_row(broker_down, admin_user):
    WorkflowFactory(name="w", execution_mode="async")
    client = client_for(admin_user)
    started = time.monotonic()
    response = client.post("/api/workflows/w/execute", {"parameters": {}}, format="json")
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert elapsed < 10
    row = Execution.objects.get()
    assert row.status == S.FAILED and row.error_type == "BrokerUnavailable"
    assert ExecutionLog.objects.filter(execution=row, level="error").exists()
    assert response.json()["details"]["execution_id"] == str(row.id)


@pytest.mark.django_db(transaction=True)
def test_broker_down_service_raises(broker_down):
    WorkflowFactory(name="w")
    with pytest.raises(ServiceUnavailableError):
        execution_start(workflow_name="w", parameters={}, trigger="manual")
    assert Execution.objects.get().status == S.FAILED


# --------------------------------------------------------------------------- presenter


class _Req:
    def __init__(self, user):
        self.user = user


@pytest.mark.parametrize(
    ("error_type", "message", "admin_sees", "member_sees"),
    [
        ("UserError", "Quota exceeded", ("UserError", "Quota exceeded"), ("UserError", "Quota exceeded")),
        ("ValueError", "db password wrong", ("ValueError", "db password wrong"), (None, GENERIC_ERROR)),
    ],
)
def test_error_visibility(error_type, message, admin_sees, member_sees, admin_user, member):
    execution = ExecutionFactory(status=S.FAILED, error_type=error_type, error_message=message)
    admin = execution_run_response(execution, request=_Req(admin_user)).data
    user = execution_run_response(execution, request=_Req(member)).data
    assert (admin["error_type"], admin["error_message"]) == admin_sees
    assert (user["error_type"], user["error_message"]) == member_sees


def test_unfinished_is_202(admin_user):
    execution = ExecutionFactory(status=S.RUNNING)
    response = execution_run_response(execution, request=_Req(admin_user))
    assert response.status_code == 202
    assert response.data == {"execution_id": str(execution.id), "status": S.RUNNING}


def test_finished_is_200_with_result(admin_user):
    execution = ExecutionFactory(status=S.SUCCESS, result={"a": 1}, result_type="json", duration_ms=5)
    response = execution_run_response(execution, request=_Req(admin_user))
    assert response.status_code == 200
    assert response.data["result"] == {"a": 1} and response.data["error_message"] is None


# --------------------------------------------------------------------------- transitions


def test_transitions_are_conditional():
    execution = ExecutionFactory(status=S.PENDING, started_at=None, completed_at=None, duration_ms=None)
    assert transitions.claim_pending(execution.id, task_id="t") is not None
    assert transitions.claim_pending(execution.id, task_id="t") is None  # already Running
    done = transitions.transition(execution.id, from_statuses={S.RUNNING}, to=S.SUCCESS)
    assert done.status == S.SUCCESS and done.completed_at and done.duration_ms is not None
    assert transitions.transition(execution.id, from_statuses={S.RUNNING}, to=S.FAILED) is None
    with pytest.raises(transitions.IllegalTransition):
        transitions.transition(execution.id, from_statuses={S.SUCCESS}, to=S.RUNNING)


def test_cancel_pending_directly_and_finished_is_400(admin_user, monkeypatch):
    execution = ExecutionFactory(status=S.PENDING, started_at=None, completed_at=None, duration_ms=None)
    cancelled = execution_cancel(execution=execution, user=admin_user)
    assert cancelled.status == S.CANCELLED
    from audit.models import AuditLog

    assert AuditLog.objects.filter(action="execution.cancel", resource_id=str(execution.id)).exists()
    with pytest.raises(ApplicationError):
        execution_cancel(execution=cancelled, user=admin_user)


def test_cleanup_task_ends_stuck_rows_with_a_log_line():
    WorkflowFactory(name="short", timeout_seconds=60)
    now = timezone.now()
    old = now - datetime.timedelta(minutes=11)
    pending = ExecutionFactory(workflow_name="short", status=S.PENDING, started_at=None)
    fresh_pending = ExecutionFactory(workflow_name="short", status=S.PENDING, started_at=None)
    running = ExecutionFactory(workflow_name="short", status=S.RUNNING, started_at=now - datetime.timedelta(minutes=7))
    running_ok = ExecutionFactory(
        workflow_name="short", status=S.RUNNING, started_at=now - datetime.timedelta(minutes=5)
    )
    cancelling = ExecutionFactory(workflow_name="short", status=S.CANCELLING, started_at=old)
    Execution.objects.filter(id__in=[pending.id]).update(updated_at=old)
    Execution.objects.filter(id=cancelling.id).update(updated_at=now - datetime.timedelta(minutes=4))
    counts = executions_cleanup_stuck(now=now)
    assert counts == {"pending_timeout": 1, "running_timeout": 1, "cancelling_cancelled": 1}
    statuses = dict(Execution.objects.values_list("id", "status"))
    assert statuses[pending.id] == S.TIMEOUT
    assert statuses[fresh_pending.id] == S.PENDING
    assert statuses[running.id] == S.TIMEOUT
    assert statuses[running_ok.id] == S.RUNNING
    assert statuses[cancelling.id] == S.CANCELLED
    for row in (pending, running, cancelling):
        assert ExecutionLog.objects.filter(execution=row, level="error", message__startswith="Cleanup:").count() == 1


def test_cleanup_is_a_periodic_task():
    from bifrost_site.periodic import PERIODIC_TASKS

    spec = next(s for s in PERIODIC_TASKS if s.task == "executions.cleanup_stuck_executions")
    assert spec.every_seconds == 300
