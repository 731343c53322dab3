"""Making a user a platform admin drops the roles they held (platform admins hold none, DESIGN §4), whichever
path sets the flag: PATCH /api/users/{id}, the admin's user page, the platform SSO's admin group, and the
development admin command's service. Each removal is in that path's audit entry."""

import pytest
from django.test import Client

from accounts import services
from accounts.models import User, UserRole
from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserRoleFactory
from accounts.tests.test_role_holding import _user_change_form
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    """MSP staff holding two GLOBAL roles (an approver role and another)."""
    user = PlatformAdminFactory(is_platform_admin=False, email="tech@msp.test")
    for name in ("MSP change approvers", "MSP helpdesk"):
        UserRoleFactory(user=user, role=RoleFactory(organization=None, name=name))
    return user


def role_ids(user) -> list[str]:
    return sorted(str(r) for r in UserRole.objects.filter(user=user).values_list("role_id", flat=True))


def test_the_api_drops_the_roles_of_a_user_made_platform_admin(admin_user, staff):
    held = role_ids(staff)
    client = client_for(admin_user)
    response = client.patch(f"/api/users/{staff.id}", {"is_platform_admin": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_platform_admin"] is True
    assert client.get(f"/api/users/{staff.id}/roles").json() == []
    entry = AuditLog.objects.get(action="user.update", resource_id=str(staff.id))
    assert entry.changes["before"] == {"is_platform_admin": False, "role_ids": held}
    assert entry.changes["after"] == {"is_platform_admin": True, "role_ids": []}
    # Made staff again: no role comes back, and nothing else is removed.
    assert client.patch(f"/api/users/{staff.id}", {"is_platform_admin": False}, format="json").status_code == 200
    assert role_ids(staff) == []
    last = AuditLog.objects.filter(action="user.update", resource_id=str(staff.id)).order_by("-created_at").first()
    assert "role_ids" not in last.changes["before"]


def test_a_user_moved_to_another_organization_keeps_global_roles_and_the_audit_says_what_went(
    admin_user, org, other_org, member
):
    own = UserRoleFactory(user=member, role=RoleFactory(organization=org)).role
    everyone = UserRoleFactory(user=member, role=RoleFactory(organization=None)).role
    response = client_for(admin_user).patch(
        f"/api/users/{member.id}", {"organization_id": str(other_org.id)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert role_ids(member) == [str(everyone.id)]
    entry = AuditLog.objects.get(action="user.update", resource_id=str(member.id))
    assert entry.changes["before"]["role_ids"] == sorted([str(own.id), str(everyone.id)])
    assert entry.changes["after"]["role_ids"] == [str(everyone.id)]


def _admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_drops_the_roles_of_a_user_made_platform_admin(admin_user, staff):
    links = list(UserRole.objects.filter(user=staff).select_related("role"))
    data = _user_change_form(staff, [(link.id, link.role) for link in links], initial=len(links))
    data["is_platform_admin"] = "on"
    response = _admin(admin_user).post(f"/admin/accounts/user/{staff.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    staff.refresh_from_db()
    assert staff.is_platform_admin and staff.is_superuser and role_ids(staff) == []
    entries = AuditLog.objects.filter(action="user.update", resource_id=str(staff.id))
    flag = entries.get(changes__after__is_platform_admin=True)
    assert flag.changes["via"] == "admin"
    removed = entries.exclude(id=flag.id).get()
    assert sorted(removed.changes["before"]["userrole_removed"]) == sorted(str(link) for link in links)


def test_the_admin_refuses_a_role_added_while_making_a_platform_admin(admin_user, staff):
    links = list(UserRole.objects.filter(user=staff).select_related("role"))
    extra = RoleFactory(organization=None, name="Another GLOBAL role")
    data = _user_change_form(staff, [*((link.id, link.role) for link in links), (None, extra)], initial=len(links))
    data["is_platform_admin"] = "on"
    response = _admin(admin_user).post(f"/admin/accounts/user/{staff.id}/change/", data)
    assert response.status_code == 200  # the form again, with the error
    assert "platform admins cannot be given roles" in response.content.decode()
    staff.refresh_from_db()
    assert not staff.is_platform_admin and role_ids(staff) == sorted(str(link.role_id) for link in links)


def test_the_admin_keeps_the_roles_of_staff_who_stay_staff(admin_user, staff):
    links = list(UserRole.objects.filter(user=staff).select_related("role"))
    data = _user_change_form(staff, [(link.id, link.role) for link in links], initial=len(links))
    data["name"] = "Renamed"
    response = _admin(admin_user).post(f"/admin/accounts/user/{staff.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert len(role_ids(staff)) == 2


def test_the_platform_sso_admin_group_drops_the_roles_of_staff_it_makes_admins(settings, staff):
    from accounts.tests.oidc_provider import OIDCProvider
    from accounts.tests.test_sso import sso_sign_in

    held = role_ids(staff)
    with OIDCProvider() as provider:
        settings.PLATFORM_SSO_ISSUER = provider.issuer
        settings.PLATFORM_SSO_CLIENT_ID = provider.client_id
        settings.PLATFORM_SSO_CLIENT_SECRET = provider.client_secret
        settings.PLATFORM_SSO_EMAIL_DOMAINS = ["msp.test"]
        settings.PLATFORM_SSO_ADMIN_GROUP = "bifrost-admins"
        provider.next_user = {"email": staff.email, "groups": ["staff"]}
        assert sso_sign_in(Client(), staff.email, provider)["Location"] == "/forms/"
        assert role_ids(staff) == held  # still staff: the roles stay
        provider.next_user = {"email": staff.email, "groups": ["bifrost-admins"]}
        assert sso_sign_in(Client(), staff.email, provider)["Location"] == "/admin/"
    staff.refresh_from_db()
    assert staff.is_platform_admin and role_ids(staff) == []
    entry = AuditLog.objects.get(action="user.update", resource_id=str(staff.id))
    assert entry.changes["via"] == "sso"
    assert entry.changes["before"] == {"is_platform_admin": False, "role_ids": held}
    assert entry.changes["after"] == {"is_platform_admin": True, "role_ids": []}


def test_the_development_admin_loses_roles_it_held_as_staff(staff):
    user, changed = services.dev_user_ensure(email=staff.email, password="correct-horse-battery-staple")
    assert changed and user.is_platform_admin
    assert role_ids(User.objects.get(id=staff.id)) == []


def test_the_admin_says_so_beside_the_flag(admin_user, staff):
    page = _admin(admin_user).get(f"/admin/accounts/user/{staff.id}/change/").content.decode()
    assert "making this user one removes the roles below when you save" in page
