"""A form's approval policy in the admin (DESIGN §16, §18): `requires_approval`, the approver roles (a
multi-select of the form's organization's and GLOBAL roles, labelled) and the timeout are shown, saved and
audited with the form; bad values are form errors, never a 500."""

import json

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory
from approvals.services import approval_required
from audit.models import AuditLog
from forms_app.models import Form
from forms_app.tests.factories import FormFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/forms_app/form/"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def roles(org, other_org):
    return {
        "own": RoleFactory(organization=org, name="Service desk leads"),
        "global": RoleFactory(organization=None, name="MSP change approvers"),
        "foreign": RoleFactory(organization=other_org, name="Fabrikam leads"),
        "inactive": RoleFactory(organization=org, name="Old approvers", is_active=False),
    }


@pytest.fixture
def form(org):
    WorkflowFactory(name="offboard_user")
    return FormFactory(organization=org, workflow="offboard_user", name="Offboard a user")


def _data(form, **approval) -> dict:
    data = {
        "name": form.name,
        "description": "",
        "organization": str(form.organization_id or ""),
        "access_level": form.access_level,
        "is_active": "on",
        "workflow": form.workflow,
        "launch_workflow": "",
        "default_launch_params": "{}",
        "allowed_query_params": "[]",
        "schema": json.dumps(form.schema),
        "form_roles-TOTAL_FORMS": "0",
        "form_roles-INITIAL_FORMS": "0",
        "form_roles-MIN_NUM_FORMS": "0",
        "form_roles-MAX_NUM_FORMS": "1000",
    }
    data.update(approval)
    return data


def test_the_change_page_shows_the_approval_fields_with_the_right_roles(browser, form, roles):
    response = browser.get(f"{BASE}{form.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="requires_approval"' in html and 'name="approval_timeout_hours"' in html
    assert 'type="checkbox" name="approver_roles"' in html  # a multi-select of roles, not raw JSON
    field = response.context["adminform"].form.fields["approver_roles"]
    assert [label for _, label in field.choices] == [
        "MSP change approvers (GLOBAL)",
        f"Service desk leads ({form.organization.name})",
    ]  # neither another organization's role nor an inactive one
    assert f"Service desk leads ({form.organization.name})" in html and "MSP change approvers (GLOBAL)" in html
    assert browser.get(f"{BASE}add/").status_code == 200


def test_the_admin_saves_the_policy_and_audits_it(browser, form, roles, admin_user):
    response = browser.post(
        f"{BASE}{form.pk}/change/",
        _data(
            form,
            requires_approval="on",
            approver_roles=[str(roles["own"].id), str(roles["global"].id)],
            approval_timeout_hours="8",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    form = Form.objects.get(pk=form.pk)
    assert form.requires_approval is True and form.approval_timeout_hours == 8
    assert set(form.approver_roles.all()) == {roles["own"], roles["global"]}
    entry = AuditLog.objects.filter(action="form.update", resource_id=str(form.pk)).latest("created_at")
    assert entry.actor == admin_user
    assert entry.changes["after"]["requires_approval"] is True and entry.changes["after"]["approval_timeout_hours"] == 8
    assert entry.changes["after"]["approver_role_ids"] == sorted([str(roles["own"].id), str(roles["global"].id)])
    assert entry.changes["before"]["approver_role_ids"] == []
    policy = approval_required(workflow=None, form=form)  # what a submission now needs
    assert policy.source == "form" and policy.timeout_hours == 8
    assert set(policy.role_ids) == {roles["own"].id, roles["global"].id}

    # turned off again, the roles emptied, the timeout back to the default
    response = browser.post(f"{BASE}{form.pk}/change/", _data(form, approval_timeout_hours=""))
    assert response.status_code == 302, response.content.decode()[:3000]
    form = Form.objects.get(pk=form.pk)
    assert form.requires_approval is False and form.approval_timeout_hours is None
    assert not form.approver_roles.exists()
    entry = AuditLog.objects.filter(action="form.update", resource_id=str(form.pk)).latest("created_at")
    assert entry.changes["before"]["requires_approval"] is True and entry.changes["after"]["approver_role_ids"] == []


def test_an_inactive_role_the_form_names_is_kept_and_labelled(browser, form, roles):
    form.approver_roles.set([roles["inactive"]])
    html = browser.get(f"{BASE}{form.pk}/change/").content.decode()
    assert "Old approvers" in html and "inactive" in html
    data = _data(form, requires_approval="on", approver_roles=[str(roles["inactive"].id)])
    assert browser.post(f"{BASE}{form.pk}/change/", data).status_code == 302
    assert list(Form.objects.get(pk=form.pk).approver_roles.all()) == [roles["inactive"]]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"approval_timeout_hours": "0"}, "approval_timeout_hours", "greater than or equal to 1"),
        ({"approval_timeout_hours": "2161"}, "approval_timeout_hours", "less than or equal to 2160"),
        ({"approval_timeout_hours": "eight"}, "approval_timeout_hours", "whole number"),
        ({"approval_timeout_hours": "99999999999999999999"}, "approval_timeout_hours", "less than or equal"),
        ({"approver_roles": ["foreign"]}, "approver_roles", "form's organization's or GLOBAL roles"),
        ({"approver_roles": ["inactive"]}, "approver_roles", "form's organization's or GLOBAL roles"),
        ({"approver_roles": ["not-a-uuid"]}, "approver_roles", "not a valid UUID"),
        ({"approver_roles": ["6f0e5f0c-0000-4000-8000-000000000000"]}, "approver_roles", "GLOBAL roles"),
    ],
)
def test_bad_values_are_form_errors_never_a_500(browser, form, roles, values, field, message):
    if "approver_roles" in values:
        values = {"approver_roles": [str(roles[v].id) if v in roles else v for v in values["approver_roles"]]}
    response = browser.post(f"{BASE}{form.pk}/change/", _data(form, requires_approval="on", **values))
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert Form.objects.get(pk=form.pk).requires_approval is False  # nothing saved


def test_moving_the_form_to_another_organization_refuses_the_old_organizations_role(browser, form, roles, other_org):
    data = _data(form, requires_approval="on", approver_roles=[str(roles["own"].id)])
    data["organization"] = str(other_org.id)
    response = browser.post(f"{BASE}{form.pk}/change/", data)
    assert response.status_code == 200
    assert "approver_roles" in response.context["adminform"].form.errors
    assert Form.objects.get(pk=form.pk).organization_id == form.organization_id


def test_the_add_page_creates_a_form_needing_approval(browser, org, roles):
    WorkflowFactory(name="offboard_user")
    template = Form(name="Needs a person", organization=org, workflow="offboard_user", schema={"fields": []})
    template.access_level = "authenticated"
    response = browser.post(
        f"{BASE}add/",
        _data(template, requires_approval="on", approver_roles=[str(roles["global"].id)], approval_timeout_hours="24"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    form = Form.objects.get(name="Needs a person")
    assert form.requires_approval and form.approval_timeout_hours == 24
    assert list(form.approver_roles.all()) == [roles["global"]]
    entry = AuditLog.objects.get(action="form.create", resource_id=str(form.pk))
    assert entry.changes["after"]["approver_role_ids"] == [str(roles["global"].id)]
