import pytest
from rest_framework.test import APIClient

from accounts.models import User, UserType
from accounts.tests.factories import DEFAULT_PASSWORD, PlatformAdminFactory, RoleFactory, UserFactory, UserRoleFactory
from audit.models import AuditLog
from conftest import client_for
from orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
STRONG = "Tr0ub4dor&3-horse"


def login(email, password):
    return APIClient().post("/auth/login", {"username": email, "password": password}, format="json")


def emails(response):
    assert response.status_code == 200, response.content
    return {u["email"] for u in response.json()["results"]}


def test_global_scope_lists_everyone_org_scope_only_that_org(admin_user, org, member, outsider):
    assert emails(client_for(admin_user).get("/api/users")) == {admin_user.email, member.email, outsider.email}
    assert emails(client_for(admin_user, org).get("/api/users")) == {member.email}


def test_user_filters(admin_client, admin_user, org, member, outsider):
    UserFactory(organization=org, email="gone@contoso.test", is_active=False)
    assert emails(admin_client.get("/api/users", {"organization": str(org.id)})) == {member.email, "gone@contoso.test"}
    assert emails(admin_client.get("/api/users", {"is_active": "false"})) == {"gone@contoso.test"}
    assert emails(admin_client.get("/api/users", {"is_platform_admin": "true"})) == {admin_user.email}
    assert emails(admin_client.get("/api/users", {"user_type": "PLATFORM"})) == {admin_user.email}
    assert emails(admin_client.get("/api/users", {"q": "FABRIKAM"})) == {outsider.email}


def test_create_org_user_with_password_can_sign_in(admin_client, admin_user, org):
    response = admin_client.post(
        "/api/users",
        {"email": "New@Contoso.test", "name": "New", "organization_id": str(org.id), "password": STRONG},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["user_type"], body["organization_id"]) == ("new@contoso.test", "ORG", str(org.id))
    assert "password" not in body
    assert body["has_usable_password"] is True
    assert login("new@contoso.test", STRONG).status_code == 200
    entry = AuditLog.objects.get(action="user.create", resource_id=body["id"])
    assert entry.actor == admin_user
    assert entry.organization_id == org.id
    assert STRONG not in str(entry.changes)


def test_create_without_password_is_unusable_until_set(admin_client, org):
    body = admin_client.post("/api/users", {"email": "nopass@contoso.test", "organization_id": str(org.id)}).json()
    assert body["has_usable_password"] is False
    assert login("nopass@contoso.test", "").status_code in (400, 401)
    assert login("nopass@contoso.test", "anything-at-all").status_code == 401
    weak = admin_client.post(f"/api/users/{body['id']}/password", {"password": "123"}, format="json")
    assert weak.status_code == 400
    assert "password" in weak.json()["details"]
    assert admin_client.post(f"/api/users/{body['id']}/password", {"password": STRONG}).status_code == 204
    assert login("nopass@contoso.test", STRONG).status_code == 200
    entry = AuditLog.objects.get(action="user.set_password", resource_id=body["id"])
    assert STRONG not in str(entry.changes)


def test_create_in_org_scope_lands_in_that_org(admin_user, org, other_org):
    scoped = client_for(admin_user, org)
    body = scoped.post("/api/users", {"email": "scoped@contoso.test"}, format="json").json()
    assert (body["organization_id"], body["user_type"]) == (str(org.id), "ORG")
    response = scoped.post("/api/users", {"email": "x@y.test", "organization_id": str(other_org.id)}, format="json")
    assert response.status_code == 400
    assert "organization_id" in response.json()["details"]
    response = scoped.post("/api/users", {"email": "p@y.test", "user_type": "PLATFORM"}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"user_type": "ORG"}, "organization_id"),
        ({"user_type": "PLATFORM", "organization_id": "ORG_ID"}, "organization_id"),
        ({"is_platform_admin": True, "organization_id": "ORG_ID"}, "is_platform_admin"),
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_create_rules_are_400_naming_the_field(admin_client, org, payload, field):
    data = {"email": "rule@example.test", **payload}
    data = {k: (str(org.id) if v == "ORG_ID" else v) for k, v in data.items()}
    response = admin_client.post("/api/users", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]


def test_platform_admin_creation(admin_client):
    body = admin_client.post("/api/users", {"email": "ops@msp.test", "is_platform_admin": True}, format="json").json()
    assert (body["user_type"], body["is_platform_admin"], body["organization_id"]) == ("PLATFORM", True, None)


def test_duplicate_email_is_409_and_unknown_org_404(admin_client, member):
    response = admin_client.post("/api/users", {"email": member.email.upper()}, format="json")
    assert response.status_code == 409
    response = admin_client.post(
        "/api/users", {"email": "z@z.test", "organization_id": "6f0e5f0c-0000-4000-8000-000000000000"}, format="json"
    )
    assert response.status_code == 404
    inactive = OrganizationFactory(is_active=False)
    response = admin_client.post("/api/users", {"email": "z@z.test", "organization_id": str(inactive.id)})
    assert response.status_code == 404


def test_update_fields_and_duplicate_email(admin_client, member, outsider):
    response = admin_client.patch(f"/api/users/{member.id}", {"name": "Renamed", "is_active": False}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["is_active"]) == ("Renamed", False)
    assert admin_client.patch(f"/api/users/{member.id}", {"email": outsider.email}, format="json").status_code == 409
    response = admin_client.patch(f"/api/users/{member.id}", {"is_platform_admin": True}, format="json")
    assert response.status_code == 400
    assert "is_platform_admin" in response.json()["details"]
    entry = AuditLog.objects.get(action="user.update", resource_id=str(member.id))
    assert entry.changes == {
        "before": {"name": member.name, "is_active": True},
        "after": {"name": "Renamed", "is_active": False},
    }


def test_nobody_changes_their_own_flags_or_deletes_themselves(admin_client, admin_user):
    for flag, value in (("is_active", False), ("is_platform_admin", False)):
        response = admin_client.patch(f"/api/users/{admin_user.id}", {flag: value}, format="json")
        assert response.status_code == 400
        assert f"your own {flag}" in response.json()["message"]
    response = admin_client.delete(f"/api/users/{admin_user.id}")
    assert response.status_code == 400
    assert "your own account" in response.json()["message"]
    assert admin_client.patch(f"/api/users/{admin_user.id}", {"name": "Me"}, format="json").status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.is_platform_admin


def test_another_admin_can_demote_and_delete_deactivates(admin_client):
    other = PlatformAdminFactory()
    assert admin_client.patch(f"/api/users/{other.id}", {"is_platform_admin": False}).status_code == 200
    assert admin_client.delete(f"/api/users/{other.id}").status_code == 204
    other.refresh_from_db()
    assert other.is_active is False
    assert User.objects.filter(id=other.id).exists()
    assert login(other.email, DEFAULT_PASSWORD).status_code == 403
    assert AuditLog.objects.filter(action="user.deactivate", resource_id=str(other.id)).exists()


def test_moving_a_user_drops_roles_of_the_old_org(admin_client, org, other_org, member):
    org_role = UserRoleFactory(user=member, role=RoleFactory(organization=org)).role
    global_role = UserRoleFactory(user=member, role=RoleFactory(organization=None)).role
    response = admin_client.patch(f"/api/users/{member.id}", {"organization_id": str(other_org.id)}, format="json")
    assert response.status_code == 200, response.content
    names = [r["name"] for r in admin_client.get(f"/api/users/{member.id}/roles").json()]
    assert names == [global_role.name]
    assert org_role.name not in names
    response = admin_client.patch(f"/api/users/{member.id}", {"organization_id": None}, format="json")
    assert response.status_code == 400


def test_user_roles_endpoint(admin_user, org, member):
    role = RoleFactory(organization=org, name="Helpdesk")
    UserRoleFactory(user=member, role=role)
    body = client_for(admin_user, org).get(f"/api/users/{member.id}/roles").json()
    assert [(r["name"], r["organization_id"]) for r in body] == [("Helpdesk", str(org.id))]
    assert client_for(member).get("/auth/me").json()["roles"] == ["Helpdesk"]


def test_platform_user_type_is_read_only_on_update(admin_client, member):
    response = admin_client.patch(f"/api/users/{member.id}", {"user_type": "PLATFORM"}, format="json")
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.user_type == UserType.ORG
