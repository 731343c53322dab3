"""Run admission (DESIGN §15) without a worker: limits, waiting, the dispatcher's round-robin, quotas,
idempotency, deferred runs and the run throttles. Publishing is recorded, not sent; the real worker and
broker are in test_admission_e2e.py."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from conftest import client_for
from executions import admission, transitions
from executions.models import Execution, ExecutionStatus, IdempotencyKey, WaitingReason
from executions.services import (
    Idempotency,
    execution_cancel,
    execution_start,
    executions_admit_pass,
    executions_cleanup_stuck,
)
from executions.tests.factories import ExecutionFactory
from orgs.tests.factories import OrganizationFactory
from workflows.tests.factories import WorkflowFactory

S = ExecutionStatus
W = WaitingReason
pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """Run ids handed to the broker (publish_run), in order."""
    sent = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: sent.append(str(execution_id)))
    return sent


@pytest.fixture
def admitted_scheduled(monkeypatch):
    sent = []
    monkeypatch.setattr(
        "executions.tasks.admit_scheduled_task.apply_async", lambda args, eta=None, **kw: sent.append((args[0], eta))
    )
    return sent


def start(workflow="job", organization=None, **kw):
    return execution_start(workflow_name=workflow, parameters={}, trigger="manual", organization=organization, **kw)


def finish(execution, to=S.SUCCESS):
    transitions.transition(execution.id, from_statuses={S.PENDING}, to=S.RUNNING)
    return transitions.transition(execution.id, from_statuses={S.RUNNING}, to=to)


def test_under_the_limits_a_run_is_published_at_once(settings, published, django_capture_on_commit_callbacks):
    settings.ORG_MAX_CONCURRENT_RUNS = 2
    WorkflowFactory(name="job")
    with django_capture_on_commit_callbacks(execute=True):
        started = start()
    assert started.execution.status == S.PENDING and started.execution.waiting_reason == ""
    assert published == [str(started.execution.id)]


def test_over_the_organization_limit_a_run_waits_unpublished(published, django_capture_on_commit_callbacks):
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=2)
    with django_capture_on_commit_callbacks(execute=True):
        runs = [start(organization=org).execution for _ in range(3)]
        other = start(organization=OrganizationFactory(max_concurrent_runs=2)).execution  # its own limit
    assert [r.waiting_reason for r in runs] == ["", "", W.ORGANIZATION_CONCURRENCY]
    assert runs[2].status == S.PENDING
    assert published == [str(runs[0].id), str(runs[1].id), str(other.id)]


def test_global_runs_count_as_one_more_organization(settings, published, django_capture_on_commit_callbacks):
    settings.ORG_MAX_CONCURRENT_RUNS = 1
    WorkflowFactory(name="job")
    org = OrganizationFactory()  # null limit: the setting
    with django_capture_on_commit_callbacks(execute=True):
        first_global, second_global = start().execution, start().execution
        in_org = start(organization=org).execution
    assert (first_global.waiting_reason, second_global.waiting_reason) == ("", W.ORGANIZATION_CONCURRENCY)
    assert in_org.waiting_reason == ""


def test_workflow_limit_holds_across_organizations(settings, published, django_capture_on_commit_callbacks):
    settings.ORG_MAX_CONCURRENT_RUNS = 10
    WorkflowFactory(name="job", max_concurrency=2)
    a, b = OrganizationFactory(), OrganizationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        runs = [start(organization=a).execution, start(organization=b).execution, start(organization=b).execution]
    assert [r.waiting_reason for r in runs] == ["", "", W.WORKFLOW_CONCURRENCY]


def test_admin_override_of_the_workflow_limit(admin_client, published, django_capture_on_commit_callbacks):
    WorkflowFactory(name="job", max_concurrency=1)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = start().execution, start().execution
    assert second.waiting_reason == W.WORKFLOW_CONCURRENCY
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.patch("/api/workflows/job", {"max_concurrency": 2}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["max_concurrency"] == 1 and response.json()["max_concurrency_override"] == 2
    second.refresh_from_db()
    assert second.waiting_reason == "" and published == [str(first.id), str(second.id)]
    assert admin_client.patch("/api/workflows/job", {"max_concurrency": 0}, format="json").status_code == 400


def test_a_finished_run_admits_the_oldest_waiting_run_of_its_organization(
    published, django_capture_on_commit_callbacks
):
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=1)
    with django_capture_on_commit_callbacks(execute=True):
        running, older, newer = (start(organization=org).execution for _ in range(3))
    assert published == [str(running.id)]
    with django_capture_on_commit_callbacks(execute=True):
        finish(running)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.waiting_reason == "" and newer.waiting_reason == W.ORGANIZATION_CONCURRENCY
    assert published == [str(running.id), str(older.id)]


def test_cancelling_a_waiting_run_frees_nothing_and_a_cancelled_admitted_run_does(
    admin_user, published, django_capture_on_commit_callbacks
):
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=1)
    with django_capture_on_commit_callbacks(execute=True):
        admitted, waiting_1, waiting_2 = (start(organization=org).execution for _ in range(3))
        execution_cancel(execution=waiting_1, user=admin_user)
    assert Execution.objects.get(id=waiting_2.id).waiting_reason == W.ORGANIZATION_CONCURRENCY
    with django_capture_on_commit_callbacks(execute=True):
        execution_cancel(execution=admitted, user=admin_user)  # Pending (admitted) → Cancelled frees its slot
    assert Execution.objects.get(id=waiting_2.id).waiting_reason == ""
    assert published[-1] == str(waiting_2.id)


def test_dispatch_is_round_robin_across_organizations_oldest_first(
    published, django_capture_on_commit_callbacks, settings
):
    settings.ORG_MAX_CONCURRENT_RUNS = 100
    WorkflowFactory(name="job")
    a, b = OrganizationFactory(max_concurrent_runs=0), OrganizationFactory(max_concurrent_runs=0)
    with django_capture_on_commit_callbacks(execute=True):
        a_runs = [start(organization=a).execution for _ in range(4)]
        b_runs = [start(organization=b).execution for _ in range(2)]
    assert published == []
    a.max_concurrent_runs = b.max_concurrent_runs = 3
    a.save()
    b.save()
    with django_capture_on_commit_callbacks(execute=True):
        result = admission.admission_dispatch()
    order = [str(r.id) for r in (a_runs[0], b_runs[0], a_runs[1], b_runs[1], a_runs[2])]
    assert result.admitted == order and published == order
    assert Execution.objects.get(id=a_runs[3].id).waiting_reason == W.ORGANIZATION_CONCURRENCY


def test_the_periodic_pass_admits_what_a_lost_wake_up_left_waiting(
    published, django_capture_on_commit_callbacks, settings
):
    """A process died after accepting runs as waiting and before any wake-up: the pass publishes them."""
    settings.ORG_MAX_CONCURRENT_RUNS = 2
    WorkflowFactory(name="job")
    left = [
        ExecutionFactory(
            workflow_name="job",
            status=S.PENDING,
            started_at=None,
            organization=None,
            executed_by=None,
            waiting_reason=W.ORGANIZATION_CONCURRENCY,
        )
        for _ in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        counts = executions_admit_pass()
    assert counts["waiting_admitted"] == 2
    assert published == [str(left[0].id), str(left[1].id)]
    with django_capture_on_commit_callbacks(execute=True):
        assert executions_admit_pass()["waiting_admitted"] == 0  # the limit holds; nothing twice
    assert len(published) == 2


def test_cleanup_leaves_waiting_and_scheduled_runs_alone():
    old = timezone.now() - datetime.timedelta(hours=1)
    waiting = ExecutionFactory(status=S.PENDING, waiting_reason=W.ORGANIZATION_CONCURRENCY, started_at=None)
    scheduled = ExecutionFactory(status=S.SCHEDULED, started_at=None, scheduled_for=timezone.now())
    lost = ExecutionFactory(status=S.PENDING, started_at=None)
    Execution.objects.filter(id__in=[waiting.id, scheduled.id, lost.id]).update(updated_at=old)
    assert executions_cleanup_stuck()["pending_timeout"] == 1
    assert Execution.objects.get(id=lost.id).status == S.TIMEOUT
    assert Execution.objects.get(id=waiting.id).status == S.PENDING
    assert Execution.objects.get(id=scheduled.id).status == S.SCHEDULED


# --- quotas -------------------------------------------------------------------------------------


def test_monthly_quota_is_a_429_naming_it(member, org, published):
    WorkflowFactory(name="job")
    org.monthly_run_quota = 2
    org.save()
    ExecutionFactory(organization=org, workflow_name="job")
    ExecutionFactory(organization=org, workflow_name="job", executed_by=None)  # whoever started it counts
    last_month = ExecutionFactory(organization=org, workflow_name="job")
    Execution.objects.filter(id=last_month.id).update(created_at=admission.month_start() - datetime.timedelta(days=1))
    with pytest.raises(admission.QuotaExceeded) as info:
        start(organization=org)
    assert info.value.status_code == 429 and "monthly run quota" in str(info.value.detail)
    assert "2 of 2" in str(info.value.detail)
    start(organization=OrganizationFactory(monthly_run_quota=None))  # null = unlimited


def test_quota_answer_over_the_api(org, published, admin_user):
    WorkflowFactory(name="job")
    org.monthly_run_quota = 0
    org.save()
    response = client_for(admin_user, organization=org).post("/api/workflows/job/execute", {}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "quota_exceeded" and "monthly run quota" in body["message"]
    assert body["details"]["monthly_run_quota"] == 0


# --- idempotency ---------------------------------------------------------------------------------


def test_same_key_replays_the_original_run(admin_client, published, django_capture_on_commit_callbacks):
    WorkflowFactory(name="job", parameters=[{"name": "n", "type": "int"}])
    headers = {"Idempotency-Key": "order-42"}
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.post(
            "/api/workflows/job/execute", {"parameters": {"n": 1}}, format="json", headers=headers
        )
        again = admin_client.post(
            "/api/workflows/job/execute", {"parameters": {"n": 1}}, format="json", headers=headers
        )
    assert first.status_code == again.status_code == 202
    assert first.json()["execution_id"] == again.json()["execution_id"]
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert Execution.objects.count() == 1 and len(published) == 1
    assert IdempotencyKey.objects.get().key_hash != "order-42"  # stored hashed
    assert Execution.objects.get().idempotency_key == IdempotencyKey.objects.get().key_hash

    other_body = admin_client.post(
        "/api/workflows/job/execute", {"parameters": {"n": 2}}, format="json", headers=headers
    )
    assert other_body.status_code == 422 and other_body.json()["error"] == "idempotency_key_reused"


def test_a_finished_original_replays_its_result_with_200(admin_client, published, admin_user):
    WorkflowFactory(name="job")
    headers = {"Idempotency-Key": "k"}
    first = admin_client.post("/api/workflows/job/execute", {}, format="json", headers=headers)
    Execution.objects.filter(id=first.json()["execution_id"]).update(status=S.SUCCESS, result={"ok": 1})
    again = admin_client.post("/api/workflows/job/execute", {}, format="json", headers=headers)
    assert again.status_code == 200 and again.json()["result"] == {"ok": 1}


def test_keys_are_per_caller_and_expire_after_24_hours(admin_client, admin_user, published):
    from accounts.tests.factories import UserFactory

    WorkflowFactory(name="job")
    headers = {"Idempotency-Key": "shared"}
    mine = admin_client.post("/api/workflows/job/execute", {}, format="json", headers=headers).json()["execution_id"]
    other_admin = UserFactory(is_platform_admin=True, user_type="PLATFORM", organization=None)
    theirs = client_for(other_admin).post("/api/workflows/job/execute", {}, format="json", headers=headers)
    assert theirs.json()["execution_id"] != mine
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    later = admin_client.post("/api/workflows/job/execute", {}, format="json", headers=headers)
    assert later.json()["execution_id"] != mine and "Idempotent-Replayed" not in later.headers


def test_bad_keys_are_400(admin_client, published):
    WorkflowFactory(name="job")
    for key in ("", "x" * 256):
        response = admin_client.post("/api/workflows/job/execute", {}, format="json", headers={"Idempotency-Key": key})
        assert response.status_code == 400 and "Idempotency-Key" in response.json()["details"]
    assert not Execution.objects.exists()


def test_webhook_and_form_submit_take_the_key(published, admin_client):
    from forms_app.tests.factories import FormFactory

    WorkflowFactory(
        name="hook",
        endpoint_enabled=True,
        allowed_methods=["POST"],
        execution_mode="async",
        parameters=[{"name": "a", "type": "int"}],
    )
    raw = admin_client.post("/api/workflow-keys", {"workflow": "hook", "description": "t"}, format="json").json()["key"]
    api = client_for()
    headers = {"Idempotency-Key": "evt-1", "X-Bifrost-Key": raw}
    first = api.post("/api/endpoints/hook", {"a": 1}, format="json", headers=headers)
    again = api.post("/api/endpoints/hook", {"a": 1}, format="json", headers=headers)
    assert first.status_code == 202, first.content
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.post("/api/endpoints/hook", {"a": 2}, format="json", headers=headers).status_code == 422

    # a public form, anonymous callers told apart by IP address
    WorkflowFactory(name="greet", execution_mode="async", parameters=[{"name": "name", "type": "string"}])
    form = FormFactory(workflow="greet", access_level="public", organization=None)
    url = f"/api/forms/{form.id}/submit"
    body = {"form_data": {"name": "Ada"}}
    key = {"Idempotency-Key": "click-1"}
    one = api.post(url, body, format="json", headers=key, REMOTE_ADDR="192.0.2.1")
    two = api.post(url, body, format="json", headers=key, REMOTE_ADDR="192.0.2.1")
    other_ip = api.post(url, body, format="json", headers=key, REMOTE_ADDR="192.0.2.2")
    assert one.status_code == 202, one.content
    assert two.json()["execution_id"] == one.json()["execution_id"] and two.headers["Idempotent-Replayed"] == "true"
    assert other_ip.json()["execution_id"] != one.json()["execution_id"]
    changed = api.post(url, {"form_data": {"name": "Bob"}}, format="json", headers=key, REMOTE_ADDR="192.0.2.1")
    assert changed.status_code == 422


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_make_one_run(published):
    """Threads with their own database connections send one key at once: the unique constraint decides."""
    WorkflowFactory(name="job")
    idempotency = Idempotency(caller="user:x", key_hash="a" * 64, body_hash="b" * 64)
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def worker():
        try:
            barrier.wait()
            started = start(idempotency=idempotency)
            ids.append((str(started.execution.id), started.replayed))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len({execution_id for execution_id, _ in ids}) == 1
    assert sum(1 for _, replayed in ids if not replayed) == 1
    assert Execution.objects.count() == 1 and len(published) == 1


# --- deferred runs -------------------------------------------------------------------------------


def test_run_at_creates_a_scheduled_run_admitted_at_its_time(
    admin_client, published, admitted_scheduled, django_capture_on_commit_callbacks
):
    WorkflowFactory(name="job", execution_mode="sync")
    run_at = timezone.now() + datetime.timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/api/workflows/job/execute", {"run_at": run_at.isoformat()}, format="json")
    assert response.status_code == 202 and response.json()["status"] == S.SCHEDULED  # sync or not: 202
    execution = Execution.objects.get()
    assert execution.scheduled_for == run_at and published == []
    assert admitted_scheduled == [(str(execution.id), run_at)]  # due soon: published with its eta
    detail = admin_client.get(f"/api/executions/{execution.id}").json()
    assert detail["scheduled_for"] is not None and detail["waiting_reason"] == ""

    with django_capture_on_commit_callbacks(execute=True):
        assert executions_admit_pass(now=run_at - datetime.timedelta(seconds=1))["scheduled_admitted"] == 0
        assert executions_admit_pass(now=run_at)["scheduled_admitted"] == 1
    execution.refresh_from_db()
    assert execution.status == S.PENDING and published == [str(execution.id)]


def test_far_deferred_runs_are_published_by_the_pass_when_due(admitted_scheduled, published):
    WorkflowFactory(name="job")
    run_at = timezone.now() + datetime.timedelta(days=3)
    execution = start(run_at=run_at).execution
    assert admitted_scheduled == []
    executions_admit_pass(now=run_at - datetime.timedelta(seconds=60))
    assert admitted_scheduled == [(str(execution.id), run_at)]


def test_a_deferred_run_over_the_limit_waits(published, admitted_scheduled, django_capture_on_commit_callbacks):
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=1)
    with django_capture_on_commit_callbacks(execute=True):
        start(organization=org)
        deferred = start(organization=org, run_at=timezone.now() + datetime.timedelta(seconds=30)).execution
        executions_admit_pass(now=timezone.now() + datetime.timedelta(seconds=31))
    deferred.refresh_from_db()
    assert deferred.status == S.PENDING and deferred.waiting_reason == W.ORGANIZATION_CONCURRENCY


def test_a_deferred_run_is_cancelled_before_its_time(admin_client, admitted_scheduled, published):
    WorkflowFactory(name="job")
    execution = start(run_at=timezone.now() + datetime.timedelta(hours=1)).execution
    response = admin_client.post(f"/api/executions/{execution.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == S.CANCELLED
    assert executions_admit_pass(now=timezone.now() + datetime.timedelta(hours=2))["scheduled_admitted"] == 0
    assert Execution.objects.get(id=execution.id).status == S.CANCELLED and published == []


@pytest.mark.parametrize(
    "run_at", ["yesterday", "2000-01-01T00:00:00Z", (timezone.now() + datetime.timedelta(days=400)).isoformat()]
)
def test_bad_run_at_is_a_400(admin_client, run_at):
    WorkflowFactory(name="job")
    response = admin_client.post("/api/workflows/job/execute", {"run_at": run_at}, format="json")
    assert response.status_code == 400 and "run_at" in response.json()["details"]


# --- throttles -----------------------------------------------------------------------------------


def test_rerun_and_schedule_trigger_are_throttled_per_user(admin_client, settings, published):
    settings.RUN_RATE_PER_USER = "2/min"
    WorkflowFactory(name="job", schedule="*/5 * * * *")
    original = ExecutionFactory(workflow_name="job", organization=None, executed_by=None)
    codes = [admin_client.post(f"/api/executions/{original.id}/rerun").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    from django.core.cache import cache

    cache.clear()
    codes = [admin_client.post("/api/schedules/job/trigger", {}, format="json").status_code for _ in range(3)]
    assert codes == [202, 202, 429]


def test_organization_limits_over_the_api_and_a_raised_limit_admits_at_once(
    admin_client, published, django_capture_on_commit_callbacks
):
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=0)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = start(organization=org).execution
    assert published == []
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.patch(
            f"/api/organizations/{org.id}", {"max_concurrent_runs": 5, "monthly_run_quota": 1000}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["max_concurrent_runs"] == 5 and response.json()["monthly_run_quota"] == 1000
    assert published == [str(waiting.id)]
    assert (
        admin_client.patch(f"/api/organizations/{org.id}", {"max_concurrent_runs": -1}, format="json").status_code
        == 400
    )


def test_a_full_workflow_does_not_hide_younger_runs_of_other_workflows(
    settings, published, django_capture_on_commit_callbacks
):
    """The oldest waiting runs of an organization are of a workflow at its limit: the dispatcher skips
    that workflow and admits the organization's next run of another one."""
    settings.ORG_MAX_CONCURRENT_RUNS = 100
    WorkflowFactory(name="job", max_concurrency=1)
    WorkflowFactory(name="other")
    org = OrganizationFactory(max_concurrent_runs=0)
    with django_capture_on_commit_callbacks(execute=True):
        blocked = [start("job", organization=org).execution for _ in range(25)]
        younger = start("other", organization=org).execution
        start("job")  # a GLOBAL run of `job` takes the workflow's one slot
    org.max_concurrent_runs = 5
    org.save()
    with django_capture_on_commit_callbacks(execute=True):
        result = admission.admission_dispatch(organization_ids=[org.id])
    assert result.admitted == [str(younger.id)]
    assert Execution.objects.get(id=blocked[0].id).waiting_reason == W.WORKFLOW_CONCURRENCY


@pytest.mark.parametrize("in_organization", [True, False])
def test_the_wake_up_probe_agrees_with_the_waiting_queries(in_organization, published):
    org = OrganizationFactory() if in_organization else None
    org_id = org.id if org else None
    other = OrganizationFactory()
    WorkflowFactory(name="job")

    def probe(workflow="job"):
        expected = admission._oldest_waiting(org_id) is not None or admission._waiting_for_workflow(workflow).exists()
        assert admission.wake_needed(organization_id=org_id, workflow_name=workflow) is expected
        return expected

    assert probe() is False
    ExecutionFactory(organization=other, status=S.PENDING, waiting_reason=W.ORGANIZATION_CONCURRENCY)
    ExecutionFactory(organization=org, executed_by=None, status=S.RUNNING, waiting_reason="")
    assert probe() is False  # another organization's wait, and a run holding a slot
    ExecutionFactory(organization=other, workflow_name="job", status=S.PENDING, waiting_reason=W.WORKFLOW_CONCURRENCY)
    assert probe() is True and probe("other_workflow") is False  # a wait for this workflow's slot, anywhere
    ExecutionFactory(
        organization=org,
        executed_by=None,
        workflow_name="x",
        status=S.PENDING,
        waiting_reason=W.ORGANIZATION_CONCURRENCY,
    )
    assert probe("other_workflow") is True


def test_a_start_that_waits_looks_again_once_committed(published, django_capture_on_commit_callbacks):
    """The run it counted may have finished, and looked for waiting runs, before this row was committed:
    the start's own look after its commit admits it (no lost wake-up)."""
    WorkflowFactory(name="job")
    org = OrganizationFactory(max_concurrent_runs=1)
    with django_capture_on_commit_callbacks(execute=True):
        running = start(organization=org).execution
    with django_capture_on_commit_callbacks(execute=False) as after_start:
        waiting = start(organization=org).execution
    assert waiting.waiting_reason == W.ORGANIZATION_CONCURRENCY
    with django_capture_on_commit_callbacks(execute=False):  # its look for waiting runs came too early
        finish(running)
    with django_capture_on_commit_callbacks(execute=True):
        for callback in after_start:
            callback()
    waiting.refresh_from_db()
    assert waiting.waiting_reason == "" and published == [str(running.id), str(waiting.id)]
