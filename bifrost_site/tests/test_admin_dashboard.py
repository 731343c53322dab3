"""The dashboard on the admin index (issue 21 item 2): figures from the database, the broker and the
workers, each linking to the filtered list it counts; the page still answers, and says so, when the
broker is down."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bifrost_site import dashboard
from bifrost_site.testing.ports import free_port
from executions.tests.factories import ExecutionFactory
from oauth_app.tests.factories import OAuthConnectionFactory, OAuthTokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_dashboard():
    cache.delete_many([dashboard.DATABASE_CACHE_KEY, dashboard.BROKER_CACHE_KEY])
    yield
    cache.delete_many([dashboard.DATABASE_CACHE_KEY, dashboard.BROKER_CACHE_KEY])


@pytest.fixture
def broker_down(settings):
    settings.DASHBOARD_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens there


def _figure(figures, label_start: str) -> dict:
    """A figure from the selector (a dataclass) or from the page's context (a dict)."""
    (figure,) = [vars(f) if not isinstance(f, dict) else f for f in figures if _label(f).startswith(label_start)]
    return figure


def _label(figure) -> str:
    return figure["label"] if isinstance(figure, dict) else figure.label


def _listed(browser, url: str) -> set:
    response = browser.get(url)
    assert response.status_code == 200, url
    assert "?e=1" not in response.request["QUERY_STRING"]
    return {row.pk for row in response.context["cl"].result_list}


def test_run_figures_count_and_link_to_their_filtered_lists(browser, org):
    running = ExecutionFactory(organization=org, status="Running")
    queued = ExecutionFactory(organization=org, status="Pending")
    waiting = ExecutionFactory(organization=org, status="Pending", waiting_reason="organization_concurrency")
    awaiting = ExecutionFactory(organization=org, status="AwaitingApproval")
    failed = ExecutionFactory(organization=org, status="Failed")
    timed_out = ExecutionFactory(organization=org, status="Timeout")
    old = ExecutionFactory(organization=org, status="Failed")
    type(old).objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    ExecutionFactory(organization=org, status="Success")

    figures = dashboard.execution_figures()
    expected = {
        "Running": {running.pk},
        "Queued": {queued.pk},
        "Waiting": {waiting.pk},
        "Awaiting approval": {awaiting.pk},
        "Failed in the last 24 h": {failed.pk, timed_out.pk},
    }
    for label, rows in expected.items():
        figure = _figure(figures, label)
        assert figure["value"] == len(rows), label
        assert _listed(browser, figure["url"]) == rows, label
    assert _figure(figures, "Failed")["attention"]


def test_oauth_figures_count_failing_and_expiring_connections(browser):
    failing = OAuthConnectionFactory(status="failed")
    expiring = OAuthConnectionFactory(status="completed")
    OAuthTokenFactory(connection=expiring, expires_at=timezone.now() + dt.timedelta(hours=2))
    healthy = OAuthConnectionFactory(status="completed")
    OAuthTokenFactory(connection=healthy, expires_at=timezone.now() + dt.timedelta(days=20))

    figures = dashboard.oauth_figures()
    assert _figure(figures, "Failing")["value"] == 1
    assert _listed(browser, _figure(figures, "Failing")["url"]) == {failing.pk}
    assert _figure(figures, "Token expired")["value"] == 1
    assert _listed(browser, _figure(figures, "Token expired")["url"]) == {expiring.pk}


def test_next_schedule_runs_are_the_enabled_schedules_soonest_first(browser, org):
    from workflows.models import Schedule
    from workflows.tests.factories import WorkflowFactory

    hourly = WorkflowFactory(name="hourly")
    minutely = WorkflowFactory(name="every_minute")
    paused = WorkflowFactory(name="paused")
    gone = WorkflowFactory(name="gone", is_available=False)
    Schedule.objects.create(workflow=hourly, cron="0 * * * *", timezone="Europe/Amsterdam", target="global")
    Schedule.objects.create(workflow=minutely, cron="* * * * *", organization=org, target="organization")
    Schedule.objects.create(workflow=paused, cron="* * * * *", target="global", enabled=False)
    Schedule.objects.create(workflow=gone, cron="* * * * *", target="global")
    runs = dashboard.next_schedule_runs()
    assert [(run.workflow_name, run.organization) for run in runs] == [("every_minute", "Contoso"), ("hourly", "")]
    assert runs[0].when <= runs[1].when and runs[1].timezone == "Europe/Amsterdam"
    assert browser.get(runs[0].url).status_code == 200  # the workflow's page, where its schedules are edited
    cache.delete(dashboard.DATABASE_CACHE_KEY)
    page = browser.get("/admin/").content.decode()
    assert "every_minute</a>" in page and "(Contoso)" in page


def test_the_index_shows_the_dashboard_with_queues_and_workers(browser, org):
    from bifrost_site import queues
    from bifrost_site.celery import app

    with app.connection_for_write() as connection:
        queues.declare_topology(connection)  # as a worker does when it starts
    ExecutionFactory(organization=org, status="Running", workflow_name="busy")
    page = browser.get("/admin/").content.decode()
    assert 'id="bifrost-dashboard"' in page
    assert "/admin/executions/execution/?status__in=Running%2CCancelling" in page
    for name in ("workflows", "workspace", "default"):
        assert f">{name}<" in page
    assert "Dead-lettered" in page and "online" in page
    assert "unreachable" not in page
    # The app list is still there, under the dashboard.
    assert "/admin/executions/execution/" in page and "Organizations" in page


def test_with_the_broker_down_the_index_still_answers_and_says_so(browser, broker_down, org):
    ExecutionFactory(organization=org, status="Running")
    response = browser.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "The broker (RabbitMQ) is unreachable" in page
    assert "Connection refused" in page
    assert _figure(response.context["dashboard"]["executions"], "Running")["value"] == 1  # the database still counts


def test_the_broker_read_is_cached(settings):
    first = dashboard.dashboard()["broker"]
    assert first["reachable"]
    settings.DASHBOARD_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    assert dashboard.dashboard()["broker"]["reachable"]  # the cached answer, for CACHE_SECONDS
    cache.delete(dashboard.BROKER_CACHE_KEY)
    assert not dashboard.dashboard()["broker"]["reachable"]


def test_the_dashboard_is_read_even_when_the_cache_is_down(monkeypatch, broker_down):
    def unavailable(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cache, "get", unavailable)
    monkeypatch.setattr(cache, "set", unavailable)
    data = dashboard.dashboard()
    assert data["broker"]["reachable"] is False and data["executions"]
