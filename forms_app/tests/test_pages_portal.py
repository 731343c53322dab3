"""/forms/ grouped by category with search; unavailable workflows; "Run again" prefill on the form page."""

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory, UserRoleFactory
from executions.tests.factories import ExecutionFactory
from forms_app.tests.factories import FormFactory, FormRoleFactory
from forms_app.tests.test_pages_admin import page_config
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def client_as(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def catalogue(org):
    WorkflowFactory(name="reset_password", category="Users")
    WorkflowFactory(name="new_mailbox", category="Mail")
    WorkflowFactory(name="broken", category="Users", is_available=False)
    return {
        "reset": FormFactory(
            organization=org, access_level="authenticated", name="Reset password", workflow="reset_password"
        ),
        "mailbox": FormFactory(
            organization=org, access_level="authenticated", name="New mailbox", workflow="new_mailbox"
        ),
        "broken": FormFactory(organization=org, access_level="authenticated", name="Broken form", workflow="broken"),
        "missing": FormFactory(organization=org, access_level="authenticated", name="Ghost form", workflow="gone"),
    }


def test_forms_are_grouped_by_category_and_searchable(catalogue, member):
    html = client_as(member).get("/forms/").content.decode()
    assert (
        html.index(">Mail</h2>") < html.index("New mailbox") < html.index(">Users</h2>") < html.index("Reset password")
    )
    assert 'id="form-search"' in html and '<label for="form-search">' in html
    assert "forms_app/form_list.js" in html
    assert 'data-search="reset password' in html


def test_unavailable_workflows_are_hidden_from_users_and_flagged_for_admins(catalogue, member, admin_user):
    html = client_as(member).get("/forms/").content.decode()
    assert "Broken form" not in html and "Ghost form" not in html
    html = client_as(admin_user).get("/forms/").content.decode()
    assert "Broken form" in html and "Ghost form" in html
    assert html.count("Workflow unavailable") == 2
    assert ">Other</h2>" in html  # a form whose workflow does not exist has no category


def test_list_page_query_count_does_not_grow_with_forms(catalogue, admin_user, django_assert_max_num_queries, org):
    client = client_as(admin_user)
    for _ in range(10):
        FormFactory(organization=org, workflow="reset_password")
    with django_assert_max_num_queries(6):
        assert client.get("/forms/").status_code == 200


@pytest.fixture
def onboard(org):
    WorkflowFactory(
        name="onboard_user", parameters=[{"name": "email", "type": "email"}, {"name": "licence", "type": "string"}]
    )
    form = FormFactory(
        organization=org,
        workflow="onboard_user",
        schema={
            "fields": [
                {"name": "email", "type": "email", "label": "Email"},
                {"name": "licence", "type": "text", "label": "Licence"},
                {"name": "attachment", "type": "file", "label": "Attachment"},
            ]
        },
    )
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    return form, UserRoleFactory(role=role).user


def test_run_again_prefills_the_form_from_a_visible_run(onboard, org, admin_user):
    form, user = onboard
    run = ExecutionFactory(
        organization=org,
        executed_by=user,
        form=form,
        trigger="form",
        parameters={"email": "a@contoso.test", "licence": "E3", "attachment": [{"id": "x"}], "extra": 1},
    )
    response = client_as(user).get(f"/forms/{form.id}/?rerun={run.id}")
    config = page_config(response)
    assert config["prefill"] == {"email": "a@contoso.test", "licence": "E3"}  # no file field, no unknown keys
    assert config["rerun_of"] == str(run.id) and "rerun" not in config["query"]
    assert "files must be chosen again" in response.content.decode()
    # an admin may see every run: the same prefill
    assert page_config(client_as(admin_user).get(f"/forms/{form.id}/?rerun={run.id}"))["prefill"]["licence"] == "E3"


def test_run_again_ignores_runs_the_user_may_not_see_or_of_another_form(onboard, org, member):
    form, user = onboard
    colleague_run = ExecutionFactory(organization=org, executed_by=member, form=form, parameters={"email": "x@y.test"})
    other_form_run = ExecutionFactory(organization=org, executed_by=user, parameters={"email": "x@y.test"})
    for execution_id in (colleague_run.id, other_form_run.id, "not-a-uuid"):
        config = page_config(client_as(user).get(f"/forms/{form.id}/?rerun={execution_id}"))
        assert config["prefill"] == {} and config["rerun_of"] is None
