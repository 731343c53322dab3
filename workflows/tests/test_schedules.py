"""Schedules: PeriodicTask sync, beat's due check on a controlled clock, tick claims, overlap, API."""

import datetime as dt
import json
import threading
import zoneinfo

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from executions.tests.factories import ExecutionFactory
from workflows import schedules
from workflows.models import ScheduleTick, TickOutcome
from workflows.tests.factories import WorkflowFactory

UTC = dt.UTC


def at(*args, tz=UTC):
    return dt.datetime(*args, tzinfo=tz)


@pytest.fixture
def scheduled(db):
    workflow = WorkflowFactory(name="nightly_report", schedule="*/15 * * * *", schedule_timezone="Europe/Amsterdam")
    schedules.schedule_sync()
    return workflow


def task_for(name):
    return PeriodicTask.objects.select_related("crontab").get(name=f"workflow:{name}")


# --- sync ---


def test_sync_creates_one_periodic_task_per_scheduled_workflow(scheduled):
    WorkflowFactory(name="no_schedule")
    task = task_for("nightly_report")
    assert task.task == "workflows.run_scheduled_workflow"
    assert json.loads(task.kwargs) == {"workflow_name": "nightly_report"}
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("*/15", "*")
    assert str(task.crontab.timezone) == "Europe/Amsterdam"
    schedules.schedule_sync()
    assert not PeriodicTask.objects.filter(name="workflow:no_schedule").exists()
    assert PeriodicTask.objects.filter(name__startswith="workflow:").count() == 1


def test_sync_updates_a_changed_schedule_in_place(scheduled):
    before = task_for("nightly_report")
    scheduled.schedule = "0 6 * * 1-5"
    scheduled.schedule_timezone = "UTC"
    scheduled.save()
    counts = schedules.schedule_sync()
    after = task_for("nightly_report")
    assert counts["updated"] == 1
    assert after.id == before.id
    assert (after.crontab.minute, after.crontab.hour, after.crontab.day_of_week) == ("0", "6", "1-5")
    assert str(after.crontab.timezone) == "UTC"


@pytest.mark.parametrize("change", ["removed", "unavailable", "deleted"])
def test_sync_disables_rather_than_deletes(scheduled, change):
    if change == "removed":
        scheduled.schedule = ""
        scheduled.save()
    elif change == "unavailable":
        scheduled.is_available = False
        scheduled.save()
    else:
        scheduled.delete()
    schedules.schedule_sync()
    task = task_for("nightly_report")
    assert task.enabled is False
    assert task.description.startswith(schedules.AUTO_DISABLED_PREFIX)


def test_sync_re_enables_a_returning_schedule_but_keeps_an_admin_pause(scheduled):
    scheduled.schedule = ""
    scheduled.save()
    schedules.schedule_sync()
    scheduled.schedule = "*/15 * * * *"
    scheduled.save()
    schedules.schedule_sync()
    assert task_for("nightly_report").enabled is True

    task = task_for("nightly_report")  # paused in the Django admin
    task.enabled = False
    task.save()
    schedules.schedule_sync()
    assert task_for("nightly_report").enabled is False


def test_sync_disables_a_schedule_with_an_invalid_expression(scheduled):
    scheduled.schedule = "every day"
    scheduled.save()
    schedules.schedule_sync()
    assert task_for("nightly_report").enabled is False


# --- beat's due check on a controlled clock ---


def _entry_at(task, now):
    entry = ModelEntry(task)
    entry.schedule.nowfun = lambda: now.astimezone(entry.schedule.tz)
    return entry


def test_beat_due_check_with_a_fixed_clock(scheduled):
    task = task_for("nightly_report")
    task.last_run_at = at(2024, 5, 1, 10, 0, 5)
    task.save()
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    due, next_check = _entry_at(task, at(2024, 5, 1, 12, 14, 59, tz=amsterdam)).is_due()
    assert not due
    assert 0 < next_check <= 1
    due, _ = _entry_at(task, at(2024, 5, 1, 12, 15, 0, 200000, tz=amsterdam)).is_due()
    assert due


def test_paused_task_is_never_due(scheduled):
    task = task_for("nightly_report")
    task.enabled = False
    task.last_run_at = at(2024, 5, 1, 10, 0)
    task.save()
    due, _ = _entry_at(task, at(2024, 5, 1, 12, 15, 0)).is_due()
    assert not due


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2024, 5, 1, 10, 15, 0, 300000), at(2024, 5, 1, 10, 15)),  # beat fired on time
        (at(2024, 5, 1, 10, 29, 58), at(2024, 5, 1, 10, 30)),  # worker clock slightly behind beat
        (at(2024, 5, 1, 10, 22, 31), at(2024, 5, 1, 10, 15)),  # delivered late: still the tick beat meant
    ],
)
def test_tick_time_is_the_crontabs_last_due_time(scheduled, now, expected):
    assert schedules.tick_time(workflow_name="nightly_report", now=now) == expected


def test_tick_time_respects_the_schedule_timezone(db):
    WorkflowFactory(name="morning", schedule="0 6 * * *", schedule_timezone="Europe/Amsterdam")
    schedules.schedule_sync()
    # 06:00 in Amsterdam (summer, UTC+2) is 04:00 UTC
    assert schedules.tick_time(workflow_name="morning", now=at(2024, 7, 1, 9, 0)) == at(2024, 7, 1, 4, 0)


# --- claims and overlap ---


def test_a_tick_is_claimed_once(scheduled):
    when = at(2024, 5, 1, 10, 15)
    assert schedules.tick_claim(workflow_name="nightly_report", scheduled_for=when) is not None
    assert schedules.tick_claim(workflow_name="nightly_report", scheduled_for=when) is None
    result = schedules.schedule_tick_run(workflow_name="nightly_report", scheduled_for=when)
    assert result["outcome"] == "duplicate"
    assert ScheduleTick.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_one_wins():
    WorkflowFactory(name="race", schedule="* * * * *")
    when = at(2024, 5, 1, 10, 15)
    barrier = threading.Barrier(2)
    results = []

    def claim():
        try:
            barrier.wait(timeout=5)
            results.append(schedules.tick_claim(workflow_name="race", scheduled_for=when))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 2
    assert sum(r is not None for r in results) == 1
    assert ScheduleTick.objects.filter(workflow_name="race").count() == 1


def test_overlap_skip_records_the_tick(scheduled):
    running = ExecutionFactory(workflow_name="nightly_report", status="Running", organization=None, executed_by=None)
    ScheduleTick.objects.create(workflow_name="nightly_report", scheduled_for=at(2024, 5, 1, 10, 0), execution=running)
    result = schedules.schedule_tick_run(workflow_name="nightly_report", scheduled_for=at(2024, 5, 1, 10, 15))
    assert result["outcome"] == TickOutcome.SKIPPED_OVERLAP
    tick = ScheduleTick.objects.get(scheduled_for=at(2024, 5, 1, 10, 15))
    assert tick.outcome == TickOutcome.SKIPPED_OVERLAP
    assert str(running.id) in tick.detail


def test_unavailable_workflow_tick_is_recorded_not_run(scheduled):
    scheduled.is_available = False
    scheduled.save()
    result = schedules.schedule_tick_run(workflow_name="nightly_report", scheduled_for=at(2024, 5, 1, 10, 15))
    assert result["outcome"] == TickOutcome.SKIPPED_UNAVAILABLE


@pytest.mark.skip(reason="needs engine (issue 4) merge")
def test_tick_starts_a_schedule_execution():
    """Will assert: schedule_tick_run on a free tick creates one Execution with trigger=schedule,
    executed_by_name='system:scheduler', organization=None, links it on the ScheduleTick (outcome started);
    a finished previous run does not block the next tick; overlap policy 'allow' starts while one runs;
    a real beat + worker on a one-minute schedule runs once per minute (and once with two beats)."""


# --- API ---


def test_list_schedules(scheduled, admin_client):
    ExecutionFactory(workflow_name="nightly_report", trigger="schedule", organization=None, executed_by=None)
    last = ExecutionFactory(
        workflow_name="nightly_report", trigger="schedule", organization=None, executed_by=None, status="Failed"
    )
    ExecutionFactory(workflow_name="nightly_report", trigger="manual", organization=None, executed_by=None)
    response = admin_client.get("/api/schedules")
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert row["workflow"] == "nightly_report"
    assert row["cron"] == "*/15 * * * *"
    assert row["timezone"] == "Europe/Amsterdam"
    assert row["human_readable"] == "Every 15 minutes"
    assert row["enabled"] is True
    assert row["next_run"] is not None
    assert row["run_count"] == 2
    assert row["last_run"]["execution_id"] == str(last.id)
    assert row["last_run"]["status"] == "Failed"
    assert row["overdue"] is False


def test_admin_pause_is_reflected_by_the_api(scheduled, admin_client):
    task = task_for("nightly_report")
    task.enabled = False
    task.save()
    [row] = admin_client.get("/api/schedules").json()["results"]
    assert row["enabled"] is False
    assert row["next_run"] is None


def test_overdue_flag(scheduled):
    from workflows import selectors

    PeriodicTask.objects.filter(name="workflow:nightly_report").update(date_changed=at(2024, 5, 1, 9, 0))
    [view] = selectors.schedule_views(selectors.scheduled_workflows(), now=at(2024, 5, 1, 10, 20))
    assert view.overdue is True
    ScheduleTick.objects.create(workflow_name="nightly_report", scheduled_for=at(2024, 5, 1, 10, 15))
    [view] = selectors.schedule_views(selectors.scheduled_workflows(), now=at(2024, 5, 1, 10, 20))
    assert view.overdue is False


def test_patch_pauses_resumes_and_changes_timezone(scheduled, admin_client):
    response = admin_client.patch("/api/schedules/nightly_report", {"enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is False
    assert task_for("nightly_report").enabled is False
    response = admin_client.patch(
        "/api/schedules/nightly_report", {"enabled": True, "timezone": "America/New_York"}, format="json"
    )
    assert response.json()["enabled"] is True
    assert response.json()["timezone"] == "America/New_York"
    assert str(task_for("nightly_report").crontab.timezone) == "America/New_York"
    from audit.models import AuditLog

    assert AuditLog.objects.filter(action="schedule.update", resource_id="nightly_report").count() == 2


def test_patch_rejects_unknown_timezone_and_unknown_workflow(scheduled, admin_client):
    response = admin_client.patch("/api/schedules/nightly_report", {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()["details"]
    assert admin_client.patch("/api/schedules/nope", {"enabled": False}, format="json").status_code == 404


def test_validate_expression(admin_client):
    response = admin_client.post("/api/schedules/validate", {"expression": "0 9 * * 1"}, format="json")
    body = response.json()
    assert response.status_code == 200
    assert body["valid"] is True
    assert body["human_readable"] == "At 09:00, only on Monday"
    assert len(body["next_runs"]) == 5
    assert all(dt.datetime.fromisoformat(t).weekday() == 0 for t in body["next_runs"])
    assert body["warning"] is None


def test_validate_warns_under_five_minutes(admin_client):
    body = admin_client.post("/api/schedules/validate", {"expression": "*/2 * * * *"}, format="json").json()
    assert body["valid"] is True
    assert body["interval_seconds"] == 120
    assert "5 minutes" in body["warning"]


@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "every monday", ""])
def test_validate_rejects_bad_cron(admin_client, expression):
    response = admin_client.post("/api/schedules/validate", {"expression": expression}, format="json")
    assert response.status_code == 400
    assert "expression" in response.json()["details"]


def test_trigger_unknown_workflow_is_404(db, admin_client):
    assert admin_client.post("/api/schedules/nope/trigger", {}, format="json").status_code == 404


@pytest.mark.skip(reason="needs engine (issue 4) merge")
def test_trigger_runs_now_as_the_admin():
    """Will assert: POST /api/schedules/{workflow}/trigger answers like /execute (202 {execution_id, status}
    for async), the Execution has trigger=manual, executed_by=the admin, and a schedule.trigger audit entry."""
