"""A workflow's Run page in the admin (issue 21 item 3): inputs from its parameters, the API's validation
(execution_start), an organization picker, sync or async; it lands on the live execution page."""

from __future__ import annotations

import pytest
from django.test import Client

from executions.models import Execution
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

PARAMETERS = [
    {"name": "user_email", "type": "email", "required": True, "label": "E-mail"},
    {"name": "licence_count", "type": "int", "validation": {"min": 1, "max": 5}, "default_value": 1},
    {"name": "send_welcome", "type": "bool"},
    {"name": "groups", "type": "list"},
]


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: sent.append(str(execution_id)))
    return sent


@pytest.fixture
def onboard():
    return WorkflowFactory(name="onboard_user", parameters=PARAMETERS)


def _url(workflow) -> str:
    return f"/admin/workflows/workflow/{workflow.pk}/run/"


def test_the_run_page_has_an_input_per_parameter_an_organization_picker_and_the_mode(browser, onboard, org):
    html = browser.get(_url(onboard)).content.decode()
    for name in ("param_user_email", "param_licence_count", "param_send_welcome", "param_groups"):
        assert f'name="{name}"' in html
    assert 'type="email"' in html and 'type="number"' in html and "E-mail *" in html
    assert "GLOBAL (no organization)" in html and f'value="{org.pk}"' in html
    assert "Synchronous (wait for the result)" in html
    change = browser.get(f"/admin/workflows/workflow/{onboard.pk}/change/").content.decode()
    assert f'href="{_url(onboard)}"' in change


def test_a_run_starts_through_the_start_service_and_lands_on_the_live_log(
    browser, admin_user, onboard, org, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            _url(onboard),
            {
                "param_user_email": "new.hire@contoso.test",
                "param_licence_count": "3",
                "param_send_welcome": "on",
                "param_groups": '["Sales", "All staff"]',
                "organization": org.pk,
                "mode": "async",
            },
        )
    execution = Execution.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/executions/{execution.id}/"
    assert execution.parameters == {
        "user_email": "new.hire@contoso.test",
        "licence_count": 3,
        "send_welcome": True,
        "groups": ["Sales", "All staff"],
    }
    assert execution.organization == org and execution.trigger == "manual" and execution.executed_by == admin_user
    assert published == [str(execution.id)]


def test_the_apis_validation_names_the_parameter(browser, onboard, published):
    response = browser.post(_url(onboard), {"param_licence_count": "9", "mode": "async"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "param_user_email" in errors and "param_licence_count" in errors
    assert not Execution.objects.exists()


def test_an_unavailable_workflow_shows_its_import_error_and_does_not_run(browser, published):
    broken = WorkflowFactory(name="broken", is_available=False, import_error="SyntaxError: invalid syntax (broken.py)")
    html = browser.get(_url(broken)).content.decode()
    assert "This workflow is unavailable" in html and "SyntaxError: invalid syntax (broken.py)" in html
    assert browser.post(_url(broken), {"mode": "async"}).status_code == 200
    assert not Execution.objects.exists()
    change = browser.get(f"/admin/workflows/workflow/{broken.pk}/change/").content.decode()
    assert "This workflow is unavailable" in change


def test_the_run_page_is_for_staff_only(member, onboard):
    client = Client()
    client.force_login(member)
    response = client.get(_url(onboard))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
