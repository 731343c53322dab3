"""Forms end to end on the real engine: the real prefork worker runs the data provider, the launch
workflow and the submitted workflow (workspace: executions/tests/workspace_fixture/wf_forms.py)."""

import pytest

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from bifrost_site.testing.engine import wait_for
from conftest import client_for
from executions.models import Execution
from forms_app.tests.factories import FormFactory, FormRoleFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FIELDS = [
    {"name": "email", "type": "email", "required": True},
    {
        "name": "licence",
        "type": "select",
        "required": True,
        "data_provider": "licences",
        "data_provider_inputs": {"tier": {"mode": "static", "value": "gold"}},
    },
    {"name": "has_manager", "type": "checkbox"},
    {
        "name": "manager_email",
        "type": "email",
        "required": True,
        "visible_if": {"==": [{"var": "field.has_manager"}, True]},
    },
]
RUN_RESULT_KEYS = {"execution_id", "status", "result", "result_type", "duration_ms", "error_type", "error_message"}


@pytest.fixture
def role_user(org):
    role = RoleFactory(organization=org)
    return role, UserRoleFactory(role=role).user


def test_role_based_form_runs_the_real_workflow(prefork_worker, discovered, org, role_user):
    role, user = role_user
    form = FormFactory(organization=org, workflow="onboard_user", schema={"fields": FIELDS})
    FormRoleFactory(form=form, role=role)
    client = client_for(user)
    options = client.post(f"/api/forms/{form.id}/data-providers/licences", {"field": "licence"}, format="json")
    assert options.status_code == 200, options.json()
    assert [o["label"] for o in options.json()["options"]] == ["gold A", "gold B"]
    missing = client.post(
        f"/api/forms/{form.id}/submit", {"form_data": {"licence": "lic_a", "has_manager": True}}, format="json"
    )
    assert missing.status_code == 400
    assert set(missing.json()["details"]["form_data"]) == {"email", "manager_email"}
    response = client.post(
        f"/api/forms/{form.id}/submit",
        {"form_data": {"email": "a@contoso.test", "licence": "lic_a"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == RUN_RESULT_KEYS  # the real execution_run_response body the form page reads
    assert body["status"] == "Success" and body["result_type"] == "json"
    assert body["result"] == {"email": "a@contoso.test", "licence": "lic_a", "manager": None, "by": user.email}
    execution = Execution.objects.get(id=body["execution_id"])
    assert (execution.status, execution.form, execution.executed_by, execution.organization) == (
        "Success",
        form,
        user,
        org,
    )
    assert execution.trigger == "form"
    assert client.get(f"/api/executions/{execution.id}").status_code == 200
    stranger = client_for(UserFactory(organization=org))
    assert stranger.post(f"/api/forms/{form.id}/submit", {"form_data": {}}, format="json").status_code == 404


def test_async_form_answers_202_and_runs(prefork_worker, discovered, org, admin_user):
    form = FormFactory(organization=org, workflow="onboard_later", schema={"fields": FIELDS[:1]})
    response = client_for(admin_user, org).post(
        f"/api/forms/{form.id}/submit", {"form_data": {"email": "b@contoso.test"}}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert set(response.json()) == {"execution_id", "status"}
    execution = wait_for(
        lambda: (e := Execution.objects.get(id=response.json()["execution_id"])).is_complete and e,
        message="the async form run",
    )
    assert execution.status == "Success" and execution.result == {"queued_for": "b@contoso.test"}


def test_public_form_and_startup_with_the_real_engine(prefork_worker, discovered, api_client):
    form = FormFactory(
        organization=None,
        access_level="public",
        workflow="onboard_user",
        launch_workflow="prepare",
        allowed_query_params=["tenant"],
        schema={"fields": FIELDS[:2]},
    )
    startup = api_client.post(f"/api/forms/{form.id}/startup", {"query": {"tenant": "t1"}}, format="json")
    assert startup.status_code == 200, startup.json()
    assert startup.json() == {"result": {"tenant": "t1", "roles": ["admin"]}}
    response = api_client.post(
        f"/api/forms/{form.id}/submit", {"form_data": {"email": "x@y.test", "licence": "lic_b"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["result"]["by"] == "public:anonymous"
    assert Execution.objects.get(id=response.json()["execution_id"]).executed_by_name == "public:anonymous"
