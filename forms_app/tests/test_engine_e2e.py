"""End to end with the real engine (issue 4): enable when the engine is merged.

These use a real Celery worker and a workspace of real workflow files; the interfaces are the
ones the engine promised (executions.services.execution_start/execution_await,
workflows.services.data_provider_options). Adapt the discovery call to the merged engine's name.
"""

import textwrap

import pytest

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from conftest import client_for
from forms_app.tests.factories import FormFactory, FormRoleFactory

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skip(reason="needs engine (issue 4) merge"),
]

WORKFLOWS = textwrap.dedent(
    """
    from bifrost import workflow, param, data_provider, context

    @data_provider(name="licences", description="Licences")
    @param("tier", type="string", required=True)
    def licences(tier):
        return [{"label": f"{tier} A", "value": "lic_a"}, {"label": f"{tier} B", "value": "lic_b"}]

    @workflow(name="onboard_user", description="Onboard", execution_mode="sync")
    @param("email", type="email", required=True)
    @param("licence", type="string")
    @param("manager_email", type="email")
    def onboard_user(context, email, licence=None, manager_email=None):
        return {"email": email, "licence": licence, "manager": manager_email, "by": context.executed_by_name}

    @workflow(name="prepare", description="Launch", execution_mode="sync")
    @param("tenant", type="string", required=True)
    def prepare(tenant):
        return {"tenant": tenant, "roles": ["admin"]}
    """
)
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


@pytest.fixture
def workspace(tmp_path, settings):
    settings.WORKSPACE_PATH = tmp_path
    (tmp_path / "onboarding.py").write_text(WORKFLOWS)
    from workflows import services as workflow_services

    workflow_services.discover_workflows()  # the engine's discovery entry point (name per issue 4)
    return tmp_path


def test_role_based_form_runs_the_real_workflow(workspace, org):
    from bifrost_site.testing.services import running_worker
    from executions.models import Execution

    form = FormFactory(organization=org, workflow="onboard_user", schema={"fields": FIELDS})
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    user = UserRoleFactory(role=role).user
    client = client_for(user)
    with running_worker():
        options = client.post(f"/api/forms/{form.id}/data-providers/licences", {}, format="json")
        assert options.status_code == 200 and options.json()["options"][0]["label"] == "gold A"
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
    execution = Execution.objects.get(id=response.json()["execution_id"])
    assert execution.status == "Success" and execution.form == form and execution.executed_by == user
    assert execution.result["licence"] == "lic_a" and execution.result["manager"] is None
    assert client.get(f"/api/executions/{execution.id}").status_code == 200
    assert (
        client_for(UserFactory(organization=org))
        .post(f"/api/forms/{form.id}/submit", {"form_data": {}}, format="json")
        .status_code
        == 404
    )


def test_public_form_and_startup_with_the_real_engine(workspace, org, api_client):
    from bifrost_site.testing.services import running_worker

    form = FormFactory(
        organization=None,
        access_level="public",
        workflow="onboard_user",
        launch_workflow="prepare",
        allowed_query_params=["tenant"],
        schema={"fields": FIELDS[:2]},
    )
    with running_worker():
        startup = api_client.post(f"/api/forms/{form.id}/startup", {"query": {"tenant": "t1"}}, format="json")
        assert startup.json() == {"result": {"tenant": "t1", "roles": ["admin"]}}
        response = api_client.post(
            f"/api/forms/{form.id}/submit", {"form_data": {"email": "x@y.test", "licence": "lic_b"}}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert response.json()["result"]["by"] == "public:anonymous"
