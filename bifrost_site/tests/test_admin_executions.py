"""The executions admin (issue 21 item 4): cancel and rerun, one run from its page or many from the list,
with the API's services and rules; the live viewer linked; filters by organization, workflow, status,
trigger and date."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from executions.models import Execution
from executions.tests.factories import ExecutionFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/executions/execution/"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def published(monkeypatch):
    """Run ids handed to the broker."""
    sent = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: sent.append(str(execution_id)))
    return sent


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_bulk_cancel_stops_what_can_be_stopped_and_explains_the_rest(browser, org):
    pending = ExecutionFactory(organization=org, status="Pending")
    finished = ExecutionFactory(organization=org, status="Success", workflow_name="done_already")
    response = browser.post(
        CHANGELIST,
        {"action": "cancel_selected", "_selected_action": [str(pending.id), str(finished.id)]},
        follow=True,
    )
    assert response.status_code == 200
    pending.refresh_from_db()
    finished.refresh_from_db()
    assert pending.status == "Cancelled" and finished.status == "Success"
    text = " ".join(_messages(response))
    assert "The run of " in text and " was cancelled." in text
    assert "The run of done_already was not cancelled: The execution is already finished (Success)." in text
    assert AuditLog.objects.filter(action="execution.cancel", resource_id=str(pending.id)).exists()


def test_bulk_rerun_starts_each_again_with_its_parameters(
    browser, admin_user, org, published, django_capture_on_commit_callbacks
):
    WorkflowFactory(name="greet")
    first = ExecutionFactory(organization=org, workflow_name="greet", parameters={}, status="Failed")
    second = ExecutionFactory(
        organization=None, executed_by=admin_user, workflow_name="greet", parameters={}, status="Success"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            CHANGELIST, {"action": "rerun_selected", "_selected_action": [str(first.id), str(second.id)]}, follow=True
        )
    assert response.status_code == 200
    reruns = Execution.objects.filter(rerun_of__in=[first, second])
    assert {(r.rerun_of_id, r.organization_id, r.trigger) for r in reruns} == {
        (first.id, org.id, "rerun"),
        (second.id, None, "rerun"),
    }
    assert sorted(published) == sorted(str(r.id) for r in reruns)
    assert sum("A new run of greet was started" in m for m in _messages(response)) == 2
    assert AuditLog.objects.filter(action="execution.rerun").count() == 2


def test_rerun_of_an_unavailable_workflow_is_refused_with_the_apis_sentence(browser, org, published):
    WorkflowFactory(name="gone", is_available=False, import_error="SyntaxError")
    execution = ExecutionFactory(organization=org, workflow_name="gone")
    response = browser.post(f"{CHANGELIST}{execution.id}/rerun/", follow=True)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}{execution.id}/change/"
    assert "The run of gone could not be started again: Workflow 'gone' is unavailable." in _messages(response)
    assert not Execution.objects.filter(rerun_of=execution).exists() and not published


def test_the_change_page_offers_the_live_log_cancel_and_rerun(browser, org, published):
    WorkflowFactory(name="greet")
    execution = ExecutionFactory(organization=org, workflow_name="greet", status="Running")
    page = browser.get(f"{CHANGELIST}{execution.id}/change/").content.decode()
    assert f'href="/executions/{execution.id}/"' in page
    assert f'action="{CHANGELIST}{execution.id}/cancel/"' in page
    assert f'action="{CHANGELIST}{execution.id}/rerun/"' in page
    # Cancel: a POST (never a GET) through the service; Running becomes Cancelling.
    assert browser.get(f"{CHANGELIST}{execution.id}/cancel/").status_code == 405
    response = browser.post(f"{CHANGELIST}{execution.id}/cancel/", follow=True)
    execution.refresh_from_db()
    assert execution.status == "Cancelling"
    assert "Cancel run" not in response.content.decode()  # nothing left to cancel
    # Rerun from the page lands on the new run's live log.
    response = browser.post(f"{CHANGELIST}{execution.id}/rerun/")
    new = Execution.objects.get(rerun_of=execution)
    assert response.status_code == 302 and response["Location"] == f"/executions/{new.id}/"


def test_the_single_run_verbs_are_for_staff_only(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member, status="Pending")
    client = Client()
    client.force_login(member)
    response = client.post(f"{CHANGELIST}{execution.id}/cancel/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    execution.refresh_from_db()
    assert execution.status == "Pending"


def test_filters_by_organization_workflow_status_trigger_and_date(browser, org, other_org):
    WorkflowFactory(name="alpha")
    WorkflowFactory(name="beta")
    ExecutionFactory(organization=org, workflow_name="alpha", status="Failed", trigger="schedule")
    ExecutionFactory(organization=other_org, workflow_name="beta", status="Success", trigger="manual")

    def shown(query: str) -> set[str]:
        response = browser.get(f"{CHANGELIST}?{query}")
        assert response.status_code == 200
        return {row.workflow_name for row in response.context["cl"].result_list}

    assert shown(f"organization__id__exact={org.id}") == {"alpha"}
    assert shown("workflow_name=beta") == {"beta"}
    assert shown("status__exact=Failed") == {"alpha"}
    assert shown("trigger__exact=manual") == {"beta"}
    assert shown("created_at__gte=2000-01-01T00:00:00%2B00:00") == {"alpha", "beta"}
    page = browser.get(CHANGELIST).content.decode()
    for title in ("By status", "By trigger", "By organization", "By workflow", "By created at"):
        assert title in page
    assert "Started at" in page and "Duration" in page and "live log" in page
