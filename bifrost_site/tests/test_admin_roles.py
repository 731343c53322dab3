"""Users and roles in the admin (issue 21 item 6): role and user pickers limited to the object's
organization plus GLOBAL and labelled with it; `assigned_by` recorded on every path; a broken unique rule
explained in a sentence, never a constraint's name."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role, UserRole
from forms_app.tests.factories import FormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def roles(org, other_org):
    return {
        "global": Role.objects.create(name="Helpdesk", organization=None),
        "own": Role.objects.create(name="Contoso admins", organization=org),
        "other": Role.objects.create(name="Fabrikam admins", organization=other_org),
    }


def _choices(response, formset_prefix: str, field: str) -> dict[str, str]:
    formset = next(fs for fs in response.context["inline_admin_formsets"] if fs.formset.prefix == formset_prefix)
    return {str(value): label for value, label in formset.formset.empty_form.fields[field].choices if value}


def test_the_role_pages_user_picker_offers_the_roles_organizations_users(browser, roles, member, outsider):
    response = browser.get(f"/admin/accounts/role/{roles['own'].pk}/change/")
    assert _choices(response, "user_roles", "user") == {str(member.pk): "member@contoso.test (Contoso)"}
    response = browser.get(f"/admin/accounts/role/{roles['global'].pk}/change/")
    assert _choices(response, "user_roles", "user") == {
        str(member.pk): "member@contoso.test (Contoso)",
        str(outsider.pk): "outsider@fabrikam.test (Fabrikam)",
    }


def test_the_forms_role_picker_offers_its_organizations_roles_and_the_global_ones(browser, org, roles):
    form = FormFactory(organization=org)
    response = browser.get(f"/admin/forms_app/form/{form.pk}/change/")
    assert _choices(response, "form_roles", "role") == {
        str(roles["global"].pk): "Helpdesk (GLOBAL)",
        str(roles["own"].pk): "Contoso admins (Contoso)",
    }


def _inline(prefix: str, **row) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0"}
    data.update({f"{prefix}-0-{key}": value for key, value in row.items()})
    return data


def test_assigned_by_is_recorded_when_a_role_page_adds_a_holder(browser, admin_user, roles, member):
    role = roles["own"]
    data = {"name": role.name, "description": "", "organization": role.organization_id, "is_active": "on"}
    data.update(_inline("user_roles", user=member.pk, role=role.pk))
    response = browser.post(f"/admin/accounts/role/{role.pk}/change/", data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert UserRole.objects.get(user=member, role=role).assigned_by == admin_user


def test_assigned_by_is_recorded_when_a_user_page_adds_a_role(browser, admin_user, roles, member):
    page = browser.get(f"/admin/accounts/user/{member.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields if name != "password"}
    data.update({"is_active": "on", "user_type": "ORG", "organization": member.organization_id})
    data.update(_inline("user_roles", role=roles["global"].pk, user=member.pk))
    response = browser.post(f"/admin/accounts/user/{member.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert UserRole.objects.get(user=member, role=roles["global"]).assigned_by == admin_user


def test_a_duplicate_role_name_is_explained_in_a_sentence(browser, org, roles):
    data = {"name": "Helpdesk", "description": "", "organization": "", "is_active": "on"}
    data.update({"user_roles-TOTAL_FORMS": "0", "user_roles-INITIAL_FORMS": "0"})
    response = browser.post("/admin/accounts/role/add/", data)
    html = response.content.decode()
    assert "GLOBAL scope already has a role named “Helpdesk”; choose another name." in html
    data["name"], data["organization"] = "Contoso admins", org.pk
    html = browser.post("/admin/accounts/role/add/", data).content.decode()
    assert "Contoso already has a role named “Contoso admins”; choose another name." in html
    assert "role_unique_org_name" not in html and "Constraint" not in html


def test_a_duplicate_config_key_is_explained_in_a_sentence(browser):
    from orgs.tests.factories import ConfigFactory

    ConfigFactory(key="tenant", organization=None, config_type="string", value="x")
    html = browser.post(
        "/admin/orgs/config/add/", {"key": "tenant", "config_type": "string", "value_string": "y"}
    ).content.decode()
    assert "GLOBAL scope already has a config entry named “tenant”; choose another name." in html
