"""Schedules: PeriodicTask sync, beat's due check on a controlled clock, tick claims, overlap, API."""

import datetime as dt
import json
import threading
import zoneinfo

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from conftest import client_for
from executions.tests.factories import ExecutionFactory
from workflows.models import ScheduleTick, TickOutcome
from workflows.services import schedules
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


# --- end to end on the real worker (t_every_minute in executions/tests/workspace_fixture/wf_triggers.py) ---


def _finished(execution_id, timeout=30):
    from bifrost_site.testing.engine import wait_for
    from executions.models import Execution

    return wait_for(
        lambda: (e := Execution.objects.get(id=execution_id)).is_complete and e,
        timeout=timeout,
        message=f"execution {execution_id} to finish",
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_tick_starts_a_schedule_execution(prefork_worker, discovered):
    from executions.models import Execution

    assert task_for("t_every_minute").enabled
    first = schedules.schedule_tick_run(workflow_name="t_every_minute", scheduled_for=at(2024, 5, 1, 10, 0))
    assert first["outcome"] == TickOutcome.STARTED
    execution = _finished(first["execution_id"])
    assert execution.status == "Success", execution.error_message
    assert (execution.trigger, execution.executed_by_name, execution.organization, execution.executed_by) == (
        "schedule",
        "system:scheduler",
        None,
        None,
    )
    assert execution.result == {"by": "system:scheduler", "scope": "GLOBAL", "trigger": "schedule"}
    tick = ScheduleTick.objects.get(workflow_name="t_every_minute", scheduled_for=at(2024, 5, 1, 10, 0))
    assert (tick.outcome, tick.execution_id) == (TickOutcome.STARTED, execution.id)
    # the finished run does not block the next tick; the same tick again does nothing
    second = schedules.schedule_tick_run(workflow_name="t_every_minute", scheduled_for=at(2024, 5, 1, 10, 1))
    assert second["outcome"] == TickOutcome.STARTED
    assert _finished(second["execution_id"]).status == "Success"
    again = schedules.schedule_tick_run(workflow_name="t_every_minute", scheduled_for=at(2024, 5, 1, 10, 1))
    assert again["outcome"] == "duplicate"
    assert Execution.objects.filter(workflow_name="t_every_minute").count() == 2


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_beat_runs_a_one_minute_schedule_once_per_tick_even_with_two_beats(
    prefork_worker, discovered, tmp_path, django_db_blocker
):
    """`celery beat` (DatabaseScheduler) + the prefork worker: one execution per minute tick; a second
    beat sending the same tick changes nothing (the ScheduleTick claim)."""
    from bifrost_site.testing.engine import start_beat, wait_for
    from executions.models import Execution

    def runs():
        return list(Execution.objects.filter(workflow_name="t_every_minute").order_by("created_at"))

    def ticks():
        return list(ScheduleTick.objects.filter(workflow_name="t_every_minute").order_by("scheduled_for"))

    def started_ticks():  # the claim commits before the execution is linked to it
        return [t for t in ticks() if t.execution_id is not None]

    # every other periodic task off: only the schedule under test is sent
    PeriodicTask.objects.exclude(name="workflow:t_every_minute").update(enabled=False)
    with start_beat(tmp_path, django_db_blocker, name="beat-a") as beat_a:
        wait_for(lambda: len(started_ticks()) >= 1, timeout=75, interval=0.5, message="the first minute tick")
        [first_tick] = started_ticks()
        assert first_tick.scheduled_for.second == 0
        assert _finished(first_tick.execution_id).status == "Success"
        with start_beat(tmp_path, django_db_blocker, name="beat-b") as beat_b:
            wait_for(lambda: len(started_ticks()) >= 2, timeout=75, interval=0.5, message="the second minute tick")
            second_tick = started_ticks()[1]
            assert (second_tick.scheduled_for - first_tick.scheduled_for).total_seconds() == 60
            assert _finished(second_tick.execution_id).status == "Success"
            # both beats sent the second tick; the worker handled the later message as a duplicate
            wait_for(lambda: "workflow:t_every_minute" in beat_b.log(), timeout=15, message="beat B to send the tick")
            wait_for(
                lambda: "already claimed" in prefork_worker.log(), timeout=15, message="the duplicate to be dropped"
            )
        assert beat_a.log().count("Sending due task workflow:t_every_minute") >= 2
    assert len(ticks()) == 2
    executions = runs()
    assert len(executions) == 2
    assert {e.id for e in executions} == {t.execution_id for t in ticks()}
    assert all(e.trigger == "schedule" and e.executed_by_name == "system:scheduler" for e in executions)


# --- API ---


def test_list_schedules(scheduled, admin_client):
    ExecutionFactory(workflow_name="nightly_report", trigger="schedule", organization=None, executed_by=None)
    last = ExecutionFactory(
        workflow_name="nightly_report", trigger="schedule", organization=None, executed_by=None, status="Failed"
    )
    ExecutionFactory(workflow_name="nightly_report", trigger="manual", organization=None, executed_by=None)
    response = admin_client.get("/api/schedules")
    assert response.status_code == 200, response.content
    [listed] = response.json()["results"]  # the workflow's default schedule, as a row (DESIGN §15)
    assert (listed["workflow"], listed["is_default"], listed["target"]) == ("nightly_report", True, "global")
    assert listed["cron"] == "*/15 * * * *" and listed["next_run_at"] is not None
    # the deprecated per-workflow path still answers with the old shape
    row = admin_client.get("/api/schedules/nightly_report").json()
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
    row = admin_client.get("/api/schedules/nightly_report").json()
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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_trigger_runs_now_as_the_admin(prefork_worker, discovered, admin_user):
    from audit.models import AuditLog
    from executions.models import Execution

    response = client_for(admin_user).post("/api/schedules/t_every_minute/trigger", {}, format="json")
    assert response.status_code == 202, response.content  # t_every_minute is async: answered like /execute
    assert set(response.json()) == {"execution_id", "status"}
    execution = _finished(response.json()["execution_id"])
    assert execution.status == "Success"
    assert (execution.trigger, execution.executed_by, execution.executed_by_name) == (
        "manual",
        admin_user,
        admin_user.email,
    )
    assert AuditLog.objects.filter(action="schedule.trigger", resource_id="t_every_minute").count() == 1
    assert not ScheduleTick.objects.filter(workflow_name="t_every_minute").exists()
    assert Execution.objects.filter(workflow_name="t_every_minute").count() == 1
