"""A workflow's schedules, edited inline on its admin page (issue 21 item 3): cron with its human-readable
preview, time zone, enabled, overlap; checked as the schedules API checks them and saved through its
service (a beat entry per schedule, audited)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from workflows.models import Schedule
from workflows.services.schedules import row_task_name
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def report():
    return WorkflowFactory(name="weekly_report", parameters=[{"name": "days", "type": "int", "default_value": 7}])


def _url(workflow) -> str:
    return f"/admin/workflows/workflow/{workflow.pk}/change/"


def _post(browser, workflow, rows: list[dict], initial: int = 0):
    data = {
        "schedule_overlap": "skip",
        "approval_policy_override": "",
        "schedules-TOTAL_FORMS": str(len(rows)),
        "schedules-INITIAL_FORMS": str(initial),
    }
    for index, row in enumerate(rows):
        data.update({f"schedules-{index}-{key}": value for key, value in row.items()})
    return browser.post(_url(workflow), data)


def test_the_page_lists_the_schedules_with_the_cron_in_words(browser, report):
    Schedule.objects.create(workflow=report, cron="0 8 * * 1", timezone="Europe/Amsterdam", target="global")
    html = browser.get(_url(report)).content.decode()
    assert "At 08:00, only on Monday" in html and "next: Mon" in html
    assert 'name="schedules-0-cron"' in html and "Europe/Amsterdam" in html


def test_a_schedule_added_on_the_page_gets_its_beat_entry_and_is_audited(browser, report, org):
    row = {
        "organization": org.pk,
        "target": "organization",
        "cron": "30  6 * * *",
        "timezone": "UTC",
        "enabled": "on",
        "overlap_policy": "skip",
        "parameters": '{"days": "3"}',
        "description": "Daily for Contoso",
    }
    response = _post(browser, report, [row])
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    schedule = Schedule.objects.get(workflow=report)
    assert schedule.cron == "30 6 * * *" and schedule.parameters == {"days": 3} and schedule.organization == org
    assert PeriodicTask.objects.filter(name=row_task_name(schedule), enabled=True).exists()
    assert AuditLog.objects.filter(action="schedule.create", resource_id=str(schedule.pk)).exists()


def test_a_bad_cron_time_zone_or_parameter_is_named_on_its_input(browser, report):
    row = {
        "organization": "",
        "target": "global",
        "cron": "every day",
        "timezone": "Mars/Olympus",
        "overlap_policy": "skip",
        "parameters": '{"days": "many"}',
    }
    response = _post(browser, report, [row])
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert (
        "5 fields" in str(errors["cron"]) and "IANA" in str(errors["timezone"]) and "days" in str(errors["parameters"])
    )
    assert not Schedule.objects.exists()


def test_pausing_a_schedule_updates_its_beat_entry(browser, report):
    schedule = Schedule.objects.create(workflow=report, cron="0 8 * * *", target="global")
    row = {
        "id": schedule.pk,
        "workflow": report.pk,
        "organization": "",
        "target": "global",
        "cron": "0 9 * * *",
        "timezone": "UTC",
        "overlap_policy": "allow",
        "parameters": "",
    }
    response = _post(browser, report, [row], initial=1)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    schedule.refresh_from_db()
    assert (schedule.cron, schedule.enabled, schedule.overlap_policy) == ("0 9 * * *", False, "allow")
    assert not PeriodicTask.objects.get(name=row_task_name(schedule)).enabled
    assert AuditLog.objects.filter(action="schedule.update", resource_id=str(schedule.pk)).exists()
