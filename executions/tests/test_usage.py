"""Usage per organization (DESIGN §20): figures match executions seeded with known durations, statuses, CPU."""

import csv
import datetime as dt
import io

import pytest
from django.apps import apps
from django.utils import timezone

from conftest import client_for
from executions.models import Execution
from executions.tests.factories import ExecutionFactory
from executions.usage import month_bounds, usage_for_month
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

NOV = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)


def seed(organization, workflow_name, status, duration_ms, cpu_ms, when=NOV):
    execution = ExecutionFactory(
        organization=organization, workflow_name=workflow_name, status=status, duration_ms=duration_ms, executed_by=None
    )
    Execution.objects.filter(id=execution.id).update(created_at=when, cpu_ms=cpu_ms)
    return execution


@pytest.fixture
def world(org, other_org):
    WorkflowFactory(name="saver", time_saved_minutes=5)
    WorkflowFactory(name="other", time_saved_minutes=3, time_saved_minutes_override=10)
    WorkflowFactory(name="nothing_saved")
    for duration, cpu, status, name in [
        (100, 10, "Success", "saver"),
        (200, 20, "Success", "saver"),
        (300, 30, "Success", "nothing_saved"),
        (400, 40, "Failed", "saver"),
        (1000, 1500, "Timeout", "saver"),
    ]:
        seed(org, name, status, duration, cpu)
    seed(org, "saver", "Success", 50, 5, when=dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=dt.UTC))  # October
    seed(org, "saver", "Success", 50, 5, when=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))  # December
    seed(other_org, "other", "Success", 2000, 250, when=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    seed(other_org, "other", "Success", 4000, 750, when=dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC))
    seed(None, "saver", "Cancelled", None, None)
    return org, other_org


def test_month_bounds():
    assert month_bounds("2026-12") == (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    for bad in ("2026-13", "2026-1", "26-01", "", "2026-00", "0000-01", "9999-12"):
        with pytest.raises(ValueError):
            month_bounds(bad)


def test_figures_match_the_seeded_runs(world):
    org, other_org = world
    rows = {row.organization_name: row for row in usage_for_month(month="2026-11")}
    assert list(rows) == ["Contoso", "Fabrikam", "GLOBAL"]
    contoso = rows["Contoso"]
    assert contoso.organization_id == str(org.id)
    assert contoso.runs_total == 5
    assert (contoso.runs["Success"], contoso.runs["Failed"], contoso.runs["Timeout"], contoso.runs["Cancelled"]) == (
        3,
        1,
        1,
        0,
    )
    assert contoso.duration_total_ms == 2000
    assert contoso.duration_p95_ms == 880.0  # percentile_cont: 400 + 0.8 × (1000 − 400)
    assert contoso.cpu_seconds == 1.6
    assert contoso.time_saved_minutes == 2 * 5  # successful runs of "saver"; nothing_saved declares none
    fabrikam = rows["Fabrikam"]
    assert (fabrikam.runs_total, fabrikam.duration_total_ms, fabrikam.cpu_seconds) == (2, 6000, 1.0)
    assert fabrikam.duration_p95_ms == 3900.0
    assert fabrikam.time_saved_minutes == 2 * 10  # the administrator's override wins
    glob = rows["GLOBAL"]
    assert (glob.organization_id, glob.runs_total, glob.runs["Cancelled"], glob.duration_p95_ms) == (None, 1, 1, None)
    assert (glob.cpu_seconds, glob.time_saved_minutes) == (0.0, 0)
    only = usage_for_month(month="2026-11", organization_id=other_org.id)
    assert [row.organization_name for row in only] == ["Fabrikam"]
    assert usage_for_month(month="2026-09") == []


def test_approvals_decided_are_counted_when_the_app_is_installed(world):
    if not apps.is_installed("approvals"):
        pytest.skip("no approvals app")
    org, other_org = world
    approval = apps.get_model("approvals", "Approval")
    for organization, status, decided_at in [
        (org, "approved", NOV),
        (org, "rejected", NOV),
        (org, "approved", dt.datetime(2026, 12, 2, tzinfo=dt.UTC)),
        (other_org, "pending", None),
        (other_org, "expired", NOV),
    ]:
        execution = ExecutionFactory(organization=organization)
        approval.objects.create(
            execution=execution,
            organization=organization,
            workflow_name=execution.workflow_name,
            expires_at=NOV + dt.timedelta(days=3),
            status=status,
            decided_at=decided_at,
        )
    rows = {row.organization_name: row for row in usage_for_month(month="2026-11")}
    assert rows["Contoso"].approvals_decided == 2
    assert rows["Fabrikam"].approvals_decided == 0


def test_usage_api_json_csv_and_scope(world, admin_user, member):
    org, other_org = world
    admin = client_for(admin_user)
    body = admin.get("/api/usage", {"month": "2026-11"}).json()
    assert body["month"] == "2026-11"
    assert [o["organization_name"] for o in body["organizations"]] == ["Contoso", "Fabrikam", "GLOBAL"]
    contoso = body["organizations"][0]
    assert contoso["runs"]["Success"] == 3 and contoso["duration_p95_ms"] == 880.0 and contoso["cpu_seconds"] == 1.6
    filtered = admin.get("/api/usage", {"month": "2026-11", "organization": str(other_org.id)}).json()
    assert [o["organization_id"] for o in filtered["organizations"]] == [str(other_org.id)]
    scoped = client_for(admin_user, org).get("/api/usage", {"month": "2026-11"}).json()
    assert [o["organization_id"] for o in scoped["organizations"]] == [str(org.id)]
    elsewhere = client_for(admin_user, org).get("/api/usage", {"month": "2026-11", "organization": str(other_org.id)})
    assert elsewhere.json()["organizations"] == []

    response = admin.get("/api/usage", {"month": "2026-11", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["organization_name"] for r in table] == ["Contoso", "Fabrikam", "GLOBAL"]
    assert table[0]["runs_Success"] == "3" and table[0]["time_saved_minutes"] == "10"
    assert table[1]["duration_p95_ms"] == "3900.0" and table[2]["duration_p95_ms"] == ""

    bad = admin.get("/api/usage", {"month": "November"})
    assert bad.status_code == 400 and "month" in bad.json()["details"]
    current = admin.get("/api/usage")  # no month: the current month
    assert current.status_code == 200 and current.json()["month"] == timezone.now().strftime("%Y-%m")
    assert admin.get("/api/usage", {"month": "0000-01", "format": "csv"}).status_code == 400
    assert client_for(member).get("/api/usage", {"month": "2026-11"}).status_code == 403


def test_the_admin_usage_page_shows_the_month_with_bars(world, admin_user, member):
    from django.test import Client

    page = Client()
    page.force_login(admin_user)
    response = page.get("/admin/usage/", {"month": "2026-11"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Contoso" in html and "Fabrikam" in html and 'class="usage-bar"' in html
    assert page.get("/admin/usage/", {"month": "bad"}).status_code == 200  # falls back to this month, says so
    page.force_login(member)
    assert page.get("/admin/usage/").status_code == 302  # to the admin sign-in


def test_an_administrator_overrides_time_saved_with_patch(world, admin_user):
    from audit.models import AuditLog

    admin = client_for(admin_user)
    response = admin.patch("/api/workflows/saver", {"time_saved_minutes": 9}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["time_saved_minutes"], response.json()["time_saved_minutes_override"]) == (5, 9)
    rows = {row.organization_name: row for row in usage_for_month(month="2026-11")}
    assert rows["Contoso"].time_saved_minutes == 2 * 9
    assert AuditLog.objects.filter(action="workflow.update", resource_id="saver").exists()
    assert admin.patch("/api/workflows/saver", {"time_saved_minutes": None}, format="json").status_code == 200
    assert usage_for_month(month="2026-11")[0].time_saved_minutes == 2 * 5
    assert admin.patch("/api/workflows/saver", {"time_saved_minutes": -1}, format="json").status_code == 400
    assert admin.patch("/api/workflows/saver", {}, format="json").status_code == 400


BUSY = """
import time
from bifrost import workflow

@workflow(name="busy", execution_mode="async")
def busy(context):
    end = time.process_time() + 0.3
    n = 0
    while time.process_time() < end:
        n += 1
    time.sleep(0.3)  # waiting costs no CPU
    return n
"""


@pytest.mark.django_db(transaction=True)
def test_a_run_records_the_cpu_time_of_its_workflow_code(tmp_path, settings, org):
    from executions.engine.runner import execute
    from workflows.services import discovery_run

    settings.WORKSPACE_PATH = tmp_path
    (tmp_path / "busy.py").write_text(BUSY)
    discovery_run(reason="test")
    execution = ExecutionFactory(workflow_name="busy", organization=org, executed_by=None, status="Pending")
    assert execute(execution.id, task_id="t-busy")["status"] == "Success"
    execution.refresh_from_db()
    assert 300 <= execution.cpu_ms < 900, execution.cpu_ms  # the busy loop, not the sleep
    assert execution.duration_ms >= 600
