import pytest

from accounts.models import Role, UserRole
from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from audit.models import AuditLog
from conftest import client_for
from forms_app.models import FormRole
from forms_app.tests.factories import FormFactory

pytestmark = pytest.mark.django_db


def test_create_lands_in_scope_and_names_are_unique_per_scope(admin_user, org):
    scoped = client_for(admin_user, org)
    body = scoped.post("/api/roles", {"name": "Helpdesk"}, format="json").json()
    assert body["organization_id"] == str(org.id)
    assert scoped.post("/api/roles", {"name": "Helpdesk"}, format="json").status_code == 409
    glob = client_for(admin_user)
    assert glob.post("/api/roles", {"name": "Helpdesk"}, format="json").json()["organization_id"] is None
    assert glob.post("/api/roles", {"name": ""}, format="json").status_code == 400
    entry = AuditLog.objects.get(action="role.create", resource_id=body["id"])
    assert (entry.actor, entry.organization_id) == (admin_user, org.id)


def test_assign_users_rules(admin_user, org, other_org, member, outsider):
    role = RoleFactory(organization=org)
    glob = client_for(admin_user, org)  # an organization's role is managed in its scope
    assert client_for(admin_user).get(f"/api/roles/{role.id}").status_code == 404
    url = f"/api/roles/{role.id}/users"
    assert glob.post(url, {"user_ids": []}, format="json").json()["details"].keys() == {"user_ids"}
    response = glob.post(url, {"user_ids": [str(admin_user.id)]}, format="json")
    assert response.status_code == 400
    assert "Platform admins cannot be given roles" in response.json()["message"]
    response = glob.post(url, {"user_ids": [str(outsider.id)]}, format="json")
    assert response.status_code == 400
    assert "Unknown users" in response.json()["message"]
    response = glob.post(url, {"user_ids": ["6f0e5f0c-0000-4000-8000-000000000000"]}, format="json")
    assert response.status_code == 400
    assert not UserRole.objects.exists()

    response = client_for(admin_user, org).post(url, {"user_ids": [str(member.id)]}, format="json")
    assert response.status_code == 200, response.content
    assert [u["email"] for u in response.json()] == [member.email]
    # adding again is harmless
    assert client_for(admin_user, org).post(url, {"user_ids": [str(member.id)]}, format="json").status_code == 200
    assert UserRole.objects.get().assigned_by == admin_user
    assert client_for(member).get("/auth/me").json()["roles"] == [role.name]
    assert AuditLog.objects.filter(action="role.users_add", resource_id=str(role.id)).count() == 1


def test_service_refuses_users_of_another_org_for_an_org_role(org, outsider):
    """Defence in depth: even with every user as a candidate, an org role stays inside its org."""
    from rest_framework.exceptions import ValidationError

    from accounts.models import User
    from accounts.services import role_users_add

    role = RoleFactory(organization=org)
    with pytest.raises(ValidationError, match="another organization"):
        role_users_add(role=role, user_ids=[outsider.id], candidates=User.objects.all())


def test_global_role_goes_to_org_users_of_any_org_in_global_scope(admin_user, org, member, outsider):
    role = RoleFactory(organization=None, name="Everyone")
    url = f"/api/roles/{role.id}/users"
    response = client_for(admin_user).post(url, {"user_ids": [str(member.id), str(outsider.id)]}, format="json")
    assert response.status_code == 200
    # an org scope sees the role's members of that organization only
    assert [u["email"] for u in client_for(admin_user, org).get(url).json()] == [member.email]
    # and cannot change a GLOBAL role's membership
    response = client_for(admin_user, org).post(url, {"user_ids": [str(member.id)]}, format="json")
    assert response.status_code == 403
    assert "GLOBAL scope" in response.json()["message"]
    assert client_for(admin_user, org).delete(f"{url}/{member.id}").status_code == 403


def test_remove_member(admin_user, org, member):
    role = UserRoleFactory(user=member, role=RoleFactory(organization=org)).role
    client = client_for(admin_user, org)
    assert client.delete(f"/api/roles/{role.id}/users/{member.id}").status_code == 204
    assert not UserRole.objects.exists()
    assert client.delete(f"/api/roles/{role.id}/users/{member.id}").status_code == 404
    assert client.delete(f"/api/roles/{role.id}/users/not-a-uuid").status_code == 404
    assert AuditLog.objects.filter(action="role.users_remove").exists()


def test_role_forms(admin_user, org, other_org):
    role = RoleFactory(organization=org)
    own_form = FormFactory(organization=org)
    global_form = FormFactory(organization=None)
    their_form = FormFactory(organization=other_org)
    client = client_for(admin_user, org)
    url = f"/api/roles/{role.id}/forms"
    response = client.post(url, {"form_ids": [str(own_form.id), str(global_form.id)]}, format="json")
    assert response.status_code == 200, response.content
    assert {f["id"] for f in response.json()} == {str(own_form.id), str(global_form.id)}
    response = client.post(url, {"form_ids": [str(their_form.id)]}, format="json")
    assert response.status_code == 400
    assert "form_ids" in response.json()["details"]
    assert client.post(url, {"form_ids": ["x"]}, format="json").status_code == 400
    assert client.delete(f"{url}/{own_form.id}").status_code == 204
    assert list(FormRole.objects.values_list("form_id", flat=True)) == [global_form.id]
    assert client.delete(f"{url}/{their_form.id}").status_code == 404
    actions = set(AuditLog.objects.filter(resource_id=str(role.id)).values_list("action", flat=True))
    assert {"role.forms_add", "role.forms_remove"} <= actions


def test_update_and_delete_role(admin_user, org, member):
    role = UserRoleFactory(user=member, role=RoleFactory(organization=org, name="Old")).role
    client = client_for(admin_user, org)
    RoleFactory(organization=org, name="Taken")
    assert client.patch(f"/api/roles/{role.id}", {"name": "Taken"}, format="json").status_code == 409
    assert client.patch(f"/api/roles/{role.id}", {"name": "New"}, format="json").json()["name"] == "New"
    assert client.delete(f"/api/roles/{role.id}").status_code == 204
    assert not Role.objects.filter(id=role.id).exists()
    assert not UserRole.objects.exists()
    entry = AuditLog.objects.get(action="role.delete")
    assert entry.changes["before"]["user_ids"] == [str(member.id)]


def test_list_search_and_filters(admin_user, org):
    RoleFactory(organization=org, name="Helpdesk")
    RoleFactory(organization=None, name="Everyone")
    RoleFactory(organization=org, name="Retired", is_active=False)
    client = client_for(admin_user, org)
    names = lambda **p: [r["name"] for r in client.get("/api/roles", p).json()["results"]]  # noqa: E731
    assert names() == ["Everyone", "Helpdesk", "Retired"]
    assert names(q="help") == ["Helpdesk"]
    assert names(is_active="false") == ["Retired"]
    assert names(is_global="true") == ["Everyone"]
    assert names(ordering="-name") == ["Retired", "Helpdesk", "Everyone"]


def test_platform_admin_cannot_be_given_a_role_even_via_factory_bypass(admin_client, admin_user):
    role = RoleFactory(organization=None)
    response = admin_client.post(f"/api/roles/{role.id}/users", {"user_ids": [str(admin_user.id)]}, format="json")
    assert response.status_code == 400
    assert UserFactory._meta.model.objects.get(id=admin_user.id).roles.count() == 0
