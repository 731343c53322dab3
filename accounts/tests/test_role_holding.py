"""A user holds roles of their own organization or GLOBAL roles; platform users (MSP staff) GLOBAL roles
only, platform admins none (DESIGN §4, §16), whether the role is given through the API or the admin."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import UserRole
from accounts.tests.factories import RoleFactory
from conftest import client_for

pytestmark = pytest.mark.django_db


def _admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _user_change_form(user, roles, *, initial=0) -> dict:
    data = {
        "email": user.email,
        "name": user.name,
        "user_type": user.user_type,
        "organization": str(user.organization_id or ""),
        "is_active": "on",
        "user_roles-TOTAL_FORMS": str(len(roles)),
        "user_roles-INITIAL_FORMS": str(initial),
        "user_roles-MIN_NUM_FORMS": "0",
        "user_roles-MAX_NUM_FORMS": "1000",
    }
    for index, (link_id, role) in enumerate(roles):
        data[f"user_roles-{index}-id"] = str(link_id or "")
        data[f"user_roles-{index}-user"] = str(user.id)
        data[f"user_roles-{index}-role"] = str(role.id)
    return data


def test_the_admin_refuses_another_organizations_role_with_a_sentence(admin_user, member, other_org):
    foreign = RoleFactory(organization=other_org, name="Fabrikam helpdesk")
    response = _admin(admin_user).post(
        f"/admin/accounts/user/{member.id}/change/", _user_change_form(member, [(None, foreign)])
    )
    assert response.status_code == 200  # the form again, with the error
    assert "may only hold roles of their own organization or GLOBAL roles" in response.content.decode()
    assert not UserRole.objects.exists()


def test_the_admins_role_picker_offers_own_organization_and_global_roles_labelled(admin_user, member, other_org):
    own = RoleFactory(organization=member.organization, name="Helpdesk")
    RoleFactory(organization=None, name="Everyone")
    RoleFactory(organization=other_org, name="Fabrikam helpdesk")
    page = _admin(admin_user).get(f"/admin/accounts/user/{member.id}/change/").content.decode()
    assert f"Helpdesk ({own.organization.name})" in page and "Everyone (GLOBAL)" in page
    assert "Fabrikam helpdesk" not in page


def test_the_admin_gives_a_platform_user_global_roles_only(admin_user, org):
    """MSP staff (a platform user who is not an admin) may hold GLOBAL roles, e.g. an approver role
    (DESIGN §16); never an organization's role. Platform admins hold none."""
    from accounts.tests.factories import PlatformAdminFactory

    staff = PlatformAdminFactory(is_platform_admin=False)
    org_role = RoleFactory(organization=org, name="Contoso approvers")
    response = _admin(admin_user).post(
        f"/admin/accounts/user/{staff.id}/change/", _user_change_form(staff, [(None, org_role)])
    )
    assert response.status_code == 200  # the form again, with the error
    assert "may only hold roles of their own organization or GLOBAL roles" in response.content.decode()
    assert not UserRole.objects.exists()
    everyone = RoleFactory(organization=None, name="MSP approvers")
    response = _admin(admin_user).post(
        f"/admin/accounts/user/{staff.id}/change/", _user_change_form(staff, [(None, everyone)])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(staff.roles.all()) == [everyone]


def test_the_model_refuses_an_organizations_role_for_a_platform_user_and_any_role_for_an_admin(admin_user, org):
    from accounts.tests.factories import PlatformAdminFactory

    staff = PlatformAdminFactory(is_platform_admin=False)
    with pytest.raises(ValidationError, match="platform users may only hold GLOBAL roles"):
        UserRole(user=staff, role=RoleFactory(organization=org)).full_clean()
    UserRole(user=staff, role=RoleFactory(organization=None)).full_clean()
    with pytest.raises(ValidationError, match="platform admins cannot be given roles"):
        UserRole(user=admin_user, role=RoleFactory(organization=None)).full_clean()


def test_the_admin_refuses_moving_a_user_away_from_the_organization_of_their_roles(admin_user, member, other_org):
    link = UserRole.objects.create(user=member, role=RoleFactory(organization=member.organization))
    data = _user_change_form(member, [(link.id, link.role)], initial=1)
    data["organization"] = str(other_org.id)
    response = _admin(admin_user).post(f"/admin/accounts/user/{member.id}/change/", data)
    assert response.status_code == 200
    assert "may only hold roles of their own organization" in response.content.decode()
    member.refresh_from_db()
    assert member.organization_id != other_org.id


def test_the_admin_refuses_another_organizations_user_on_the_role_page(admin_user, org, outsider):
    role = RoleFactory(organization=org)
    data = {
        "name": role.name,
        "description": "",
        "organization": str(org.id),
        "is_active": "on",
        "user_roles-TOTAL_FORMS": "1",
        "user_roles-INITIAL_FORMS": "0",
        "user_roles-MIN_NUM_FORMS": "0",
        "user_roles-MAX_NUM_FORMS": "1000",
        "user_roles-0-id": "",
        "user_roles-0-role": str(role.id),
        "user_roles-0-user": str(outsider.id),
    }
    response = _admin(admin_user).post(f"/admin/accounts/role/{role.id}/change/", data)
    assert response.status_code == 200
    assert "may only hold roles of their own organization" in response.content.decode()
    assert not UserRole.objects.exists()


def test_the_admin_accepts_own_organization_and_global_roles(admin_user, member):
    own, everyone = RoleFactory(organization=member.organization), RoleFactory(organization=None)
    response = _admin(admin_user).post(
        f"/admin/accounts/user/{member.id}/change/", _user_change_form(member, [(None, own), (None, everyone)])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(member.roles.all()) == {own, everyone}


def test_the_model_refuses_it_too(member, other_org):
    with pytest.raises(ValidationError, match="own organization or GLOBAL roles"):
        UserRole(user=member, role=RoleFactory(organization=other_org)).full_clean()


def test_the_api_refuses_another_organizations_user_and_platform_users(admin_user, org, outsider):
    role = RoleFactory(organization=None)
    org_role = RoleFactory(organization=org)
    response = client_for(admin_user).post(
        f"/api/roles/{role.id}/users", {"user_ids": [str(admin_user.id)]}, format="json"
    )
    assert response.status_code == 400 and "Platform admins cannot be given roles" in response.json()["message"]
    response = client_for(admin_user, org).post(
        f"/api/roles/{org_role.id}/users", {"user_ids": [str(outsider.id)]}, format="json"
    )
    assert response.status_code == 400
    assert not UserRole.objects.exists()


def test_the_api_gives_a_platform_user_global_roles_only(admin_user, org):
    from accounts.tests.factories import PlatformAdminFactory

    staff = PlatformAdminFactory(is_platform_admin=False, email="staff@msp.test")
    everyone, org_role = RoleFactory(organization=None), RoleFactory(organization=org)
    response = client_for(admin_user, org).post(
        f"/api/roles/{org_role.id}/users", {"user_ids": [str(staff.id)]}, format="json"
    )
    assert response.status_code == 400
    assert "Platform users may only hold GLOBAL roles" in response.json()["message"]
    assert not UserRole.objects.exists()
    response = client_for(admin_user).post(
        f"/api/roles/{everyone.id}/users", {"user_ids": [str(staff.id)]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [member["email"] for member in response.json()] == ["staff@msp.test"]
    assert list(staff.roles.all()) == [everyone]


def test_the_global_roles_admin_page_offers_and_gives_it_to_platform_staff_never_admins(admin_user, member):
    from accounts.tests.factories import PlatformAdminFactory

    staff = PlatformAdminFactory(is_platform_admin=False, email="tech@msp.test")
    role = RoleFactory(organization=None, name="MSP change approvers")
    page = _admin(admin_user).get(f"/admin/accounts/role/{role.id}/change/")
    choices = [label for _, label in page.context["inline_admin_formsets"][0].formset.empty_form.fields["user"].choices]
    assert "tech@msp.test (platform user)" in choices and f"{member.email} ({member.organization.name})" in choices
    assert not any(admin_user.email in label for label in choices)
    data = {
        "name": role.name,
        "description": "",
        "organization": "",
        "is_active": "on",
        "user_roles-TOTAL_FORMS": "1",
        "user_roles-INITIAL_FORMS": "0",
        "user_roles-MIN_NUM_FORMS": "0",
        "user_roles-MAX_NUM_FORMS": "1000",
        "user_roles-0-id": "",
        "user_roles-0-role": str(role.id),
        "user_roles-0-user": str(staff.id),
    }
    response = _admin(admin_user).post(f"/admin/accounts/role/{role.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(staff.roles.all()) == [role]
    org_role = RoleFactory(organization=member.organization)
    page = _admin(admin_user).get(f"/admin/accounts/role/{org_role.id}/change/")
    choices = [label for _, label in page.context["inline_admin_formsets"][0].formset.empty_form.fields["user"].choices]
    assert not any("tech@msp.test" in label for label in choices)  # an organization's role: its users only
