"""Schedules as rows per organization (DESIGN §15): /api/schedules CRUD, the default schedule from
discovery, the each_organization fan-out (one run per active organization per tick, never two), quota and
overlap per organization. Publishing is recorded, not sent; the real worker is in test_schedule_rows_e2e."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from conftest import client_for
from executions.models import Execution
from orgs.tests.factories import OrganizationFactory
from workflows.models import Schedule, ScheduleTick, TickOutcome
from workflows.services import schedules
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
PARAMS = [{"name": "mailbox", "type": "email", "required": True}, {"name": "days", "type": "int"}]


@pytest.fixture(autouse=True)
def published(monkeypatch):
    sent = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: sent.append(str(execution_id)))
    return sent


@pytest.fixture
def report(db):
    return WorkflowFactory(name="mail_report", parameters=PARAMS)


def test_create_in_an_organization_scope_defaults_to_that_organization(report, admin_user, org):
    api = client_for(admin_user, organization=org)
    body = {"workflow": "mail_report", "cron": "0 6 * * *", "parameters": {"mailbox": "a@b.test", "days": "7"}}
    response = api.post("/api/schedules", body, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["organization_id"], row["target"], row["is_default"]) == (str(org.id), "organization", False)
    assert row["parameters"] == {"mailbox": "a@b.test", "days": 7}  # validated and coerced
    assert row["human_readable"] and row["next_run_at"]
    task = PeriodicTask.objects.get(name=f"schedule:{row['id']}")
    assert task.enabled and task.task == schedules.TICK_TASK_NAME and str(row["id"]) in task.kwargs


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"workflow": "mail_report", "cron": "61 * * * *", "parameters": {"mailbox": "a@b.test"}}, "cron"),
        ({"workflow": "mail_report", "cron": "0 6 * * *", "parameters": {"days": 1}}, "parameters"),
        ({"workflow": "mail_report", "cron": "0 6 * * *", "parameters": {"mailbox": "x"}}, "parameters"),
        ({"workflow": "nope", "cron": "0 6 * * *"}, "workflow"),
        ({"workflow": "mail_report"}, "cron"),
        ({"workflow": "mail_report", "cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        (
            {
                "workflow": "mail_report",
                "cron": "0 6 * * *",
                "target": "organization",
                "parameters": {"mailbox": "a@b.test"},
            },
            "target",
        ),
    ],
)
def test_bad_schedules_are_400_naming_the_field(report, admin_client, body, field):
    response = admin_client.post("/api/schedules", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]
    assert not Schedule.objects.exists()


def test_an_organization_scope_cannot_make_a_global_or_fan_out_schedule(report, admin_user, org):
    api = client_for(admin_user, organization=org)
    body = {"workflow": "mail_report", "cron": "0 6 * * *", "target": "each_organization"}
    assert api.post("/api/schedules", {**body, "parameters": {"mailbox": "a@b.test"}}, format="json").status_code == 400


def test_list_filters_scope_update_delete(report, admin_client, admin_user, org, other_org):
    params = {"mailbox": "a@b.test"}
    mine = schedules.schedule_create(
        workflow_name="mail_report", organization=org, values={"cron": "0 6 * * *", "parameters": params}, user=None
    )
    theirs = schedules.schedule_create(
        workflow_name="mail_report",
        organization=other_org,
        values={"cron": "0 7 * * *", "parameters": params},
        user=None,
    )
    everywhere = schedules.schedule_create(
        workflow_name="mail_report",
        organization=None,
        values={"cron": "0 8 * * *", "target": "each_organization", "parameters": params, "enabled": False},
        user=None,
    )
    ids = lambda response: {row["id"] for row in response.json()["results"]}  # noqa: E731
    assert ids(admin_client.get("/api/schedules")) == {str(mine.id), str(theirs.id), str(everywhere.id)}
    assert ids(admin_client.get(f"/api/schedules?organization={org.id}")) == {str(mine.id)}
    assert ids(admin_client.get("/api/schedules?enabled=false")) == {str(everywhere.id)}
    assert ids(admin_client.get("/api/schedules?workflow=other")) == set()
    scoped = client_for(admin_user, organization=org)
    assert ids(scoped.get("/api/schedules")) == {str(mine.id)}
    assert scoped.get(f"/api/schedules/{theirs.id}").status_code == 404
    assert scoped.patch(f"/api/schedules/{theirs.id}", {"enabled": False}, format="json").status_code == 404

    response = scoped.patch(f"/api/schedules/{mine.id}", {"cron": "30 5 * * 1-5", "enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["cron"], response.json()["enabled"], response.json()["next_run_at"]) == (
        "30 5 * * 1-5",
        False,
        None,
    )
    assert PeriodicTask.objects.get(name=f"schedule:{mine.id}").enabled is False
    assert scoped.patch(f"/api/schedules/{mine.id}", {"target": "global"}, format="json").status_code == 400
    assert scoped.delete(f"/api/schedules/{mine.id}").status_code == 204
    assert not PeriodicTask.objects.filter(name=f"schedule:{mine.id}").exists()
    assert not Schedule.objects.filter(id=mine.id).exists()


def test_discovery_keeps_the_default_schedule_row(admin_client):
    workflow = WorkflowFactory(name="nightly", schedule="*/15 * * * *", schedule_timezone="Europe/Amsterdam")
    schedules.schedule_sync()
    default = Schedule.objects.get(workflow=workflow, is_default=True)
    assert (default.cron, default.timezone, default.target, default.enabled) == (
        "*/15 * * * *",
        "Europe/Amsterdam",
        "global",
        True,
    )
    response = admin_client.patch(f"/api/schedules/{default.id}", {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert PeriodicTask.objects.get(name="workflow:nightly").enabled is False
    assert admin_client.patch(f"/api/schedules/{default.id}", {"cron": "0 * * * *"}, format="json").status_code == 400
    assert admin_client.delete(f"/api/schedules/{default.id}").status_code == 409
    workflow.schedule = "0 3 * * *"
    workflow.save()
    schedules.schedule_sync()
    default.refresh_from_db()
    assert default.cron == "0 3 * * *" and default.enabled is False  # the admin's pause stays
    assert Schedule.objects.filter(workflow=workflow).count() == 1


def test_each_organization_tick_fans_out_once_per_active_organization(report, published):
    orgs = [OrganizationFactory() for _ in range(3)]
    OrganizationFactory(is_active=False)
    fan_out = schedules.schedule_create(
        workflow_name="mail_report",
        organization=None,
        values={"cron": "0 * * * *", "target": "each_organization", "parameters": {"mailbox": "a@b.test"}},
        user=None,
    )
    result = schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN)
    assert result["outcome"] == "fan_out" and result["outcomes"] == {TickOutcome.STARTED: 3}
    runs = Execution.objects.filter(schedule=fan_out)
    assert sorted(r.organization_id for r in runs) == sorted(o.id for o in orgs)
    assert {(r.trigger, r.executed_by_name, r.parameters["mailbox"]) for r in runs} == {
        ("schedule", "system:scheduler", "a@b.test")
    }
    again = schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN)
    assert again["outcomes"] == {"duplicate": 3} and runs.count() == 3
    fan_out.refresh_from_db()
    assert fan_out.last_run_at == WHEN


def test_fan_out_skips_an_organization_over_its_quota_and_one_still_running(report, published):
    used_up = OrganizationFactory(monthly_run_quota=0)
    busy, fine = OrganizationFactory(), OrganizationFactory()
    fan_out = schedules.schedule_create(
        workflow_name="mail_report",
        organization=None,
        values={"cron": "0 * * * *", "target": "each_organization", "parameters": {"mailbox": "a@b.test"}},
        user=None,
    )
    schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN - dt.timedelta(hours=1))
    Execution.objects.filter(schedule=fan_out, organization=fine).update(status="Success")
    result = schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN)
    by_org = {t.organization_id: t for t in ScheduleTick.objects.filter(schedule=fan_out, scheduled_for=WHEN)}
    assert by_org[used_up.id].outcome == TickOutcome.SKIPPED_QUOTA and "monthly run quota" in by_org[used_up.id].detail
    assert by_org[busy.id].outcome == TickOutcome.SKIPPED_OVERLAP  # its previous run is still Pending
    assert by_org[fine.id].outcome == TickOutcome.STARTED
    assert result["outcomes"] == {
        TickOutcome.SKIPPED_QUOTA: 1,
        TickOutcome.SKIPPED_OVERLAP: 1,
        TickOutcome.STARTED: 1,
    }


def test_an_organization_schedule_runs_in_its_organization(report, org, published):
    row = schedules.schedule_create(
        workflow_name="mail_report",
        organization=org,
        values={"cron": "0 6 * * *", "parameters": {"mailbox": "a@b.test"}},
        user=None,
    )
    result = schedules.schedule_tick_run(schedule_id=row.id, scheduled_for=WHEN)
    execution = Execution.objects.get(id=result["execution_id"])
    assert (execution.organization, execution.schedule, execution.trigger) == (org, row, "schedule")


@pytest.mark.django_db(transaction=True)
def test_two_beats_sending_one_fan_out_tick_make_one_run_per_organization(published):
    WorkflowFactory(name="mail_report", parameters=PARAMS)
    orgs = [OrganizationFactory() for _ in range(4)]
    fan_out = schedules.schedule_create(
        workflow_name="mail_report",
        organization=None,
        values={"cron": "0 * * * *", "target": "each_organization", "parameters": {"mailbox": "a@b.test"}},
        user=None,
    )
    barrier = threading.Barrier(3)
    errors = []

    def tick():
        try:
            barrier.wait(timeout=10)
            schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    runs = Execution.objects.filter(schedule=fan_out)
    assert sorted(r.organization_id for r in runs) == sorted(o.id for o in orgs)
    assert ScheduleTick.objects.filter(schedule=fan_out, outcome=TickOutcome.STARTED).count() == 4


def test_trigger_a_schedule_now_and_the_run_shows_its_schedule(report, admin_client, org, published):
    row = schedules.schedule_create(
        workflow_name="mail_report",
        organization=org,
        values={"cron": "0 6 * * *", "parameters": {"mailbox": "a@b.test"}},
        user=None,
    )
    response = admin_client.post(f"/api/schedules/{row.id}/trigger")
    assert response.status_code == 202, response.content
    execution_id = response.json()["execution_id"]
    detail = admin_client.get(f"/api/executions/{execution_id}").json()
    assert (detail["schedule_id"], detail["organization_id"], detail["trigger"]) == (str(row.id), str(org.id), "manual")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_fan_out_on_the_real_worker_runs_once_per_active_organization(prefork_worker, discovered, monkeypatch):
    """Two beats deliver one each_organization tick at once: every active organization gets exactly one
    run, in its own scope, and each succeeds on the real worker (publishing is real here)."""
    from bifrost_site.testing.engine import wait_for

    monkeypatch.undo()  # the real broker
    orgs = [OrganizationFactory() for _ in range(3)]
    OrganizationFactory(is_active=False)
    fan_out = schedules.schedule_create(
        workflow_name="t_every_minute",
        organization=None,
        values={"cron": "* * * * *", "target": "each_organization"},
        user=None,
    )
    errors = []

    def tick():
        try:
            schedules.schedule_tick_run(schedule_id=fan_out.id, scheduled_for=WHEN)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    runs = Execution.objects.filter(schedule=fan_out)
    wait_for(lambda: runs.filter(status="Success").count() == 3, timeout=60, message="the fan-out runs to succeed")
    assert sorted(r.organization_id for r in runs) == sorted(o.id for o in orgs)
    assert {r.result["scope"] for r in runs} == {str(o.id) for o in orgs}
