import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import PlatformAdminFactory, RoleFactory
from audit.models import AuditLog
from audit.tests.factories import AuditLogFactory
from conftest import client_for
from orgs.models import Config, Organization
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db


def test_journey_is_audited_with_actor_and_no_secret_values(admin_user, org):
    """The scripted journey: every change shows up with the right actor and no secret value."""
    SecretFactory(name="smtp", value="SuperSecretValue-1", organization=None)
    glob = client_for(admin_user)
    glob.credentials(HTTP_AUTHORIZATION=glob._credentials["HTTP_AUTHORIZATION"], HTTP_USER_AGENT="journey/1.0")
    new_org = glob.post("/api/organizations", {"name": "Initech", "domain": "initech.com"}, format="json").json()
    scoped = client_for(admin_user, new_org["id"])
    user = scoped.post(
        "/api/users", {"email": "peter@initech.com", "password": "Tr0ub4dor&3-horse"}, format="json"
    ).json()
    role = scoped.post("/api/roles", {"name": "TPS"}, format="json").json()
    scoped.post(f"/api/roles/{role['id']}/users", {"user_ids": [user["id"]]}, format="json")
    scoped.post("/api/config", {"key": "mail_login", "value": "smtp", "config_type": "secret_ref"}, format="json")
    glob.post("/api/config", {"key": "api_token", "value": "tok-ABC-123"}, format="json")

    response = glob.get("/api/audit-logs", {"limit": 100})
    assert response.status_code == 200
    rows = response.json()["results"]
    actions = {r["action"] for r in rows}
    assert {"organization.create", "user.create", "role.create", "role.users_add", "config.create"} <= actions
    for row in rows:
        assert row["actor_id"] == str(admin_user.id)
        assert row["actor_name"] == admin_user.email
        assert row["ip_address"] == "127.0.0.1"
        assert row["request_id"]
    body = response.content.decode()
    for secret in ("SuperSecretValue-1", "Tr0ub4dor&3-horse", "tok-ABC-123"):
        assert secret not in body
    assert any(r["user_agent"] == "journey/1.0" for r in rows)
    # org scope shows that organization's entries only
    scoped_rows = scoped.get("/api/audit-logs").json()["results"]
    assert scoped_rows and {r["organization_id"] for r in scoped_rows} == {new_org["id"]}


def test_filters(admin_client, admin_user, org, other_org):
    old = AuditLogFactory(action="user.create", organization=org, resource_type="user", resource_id="u1")
    AuditLog.objects.filter(id=old.id)  # created_at is auto; compare with timestamps around it
    mine = AuditLogFactory(action="role.create", organization=org, actor=admin_user, resource_type="role")
    theirs = AuditLogFactory(action="role.delete", organization=other_org, resource_type="role", resource_id="r9")

    def ids(**params):
        response = admin_client.get("/api/audit-logs", params)
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids(action="user.create") == {str(old.id)}
    assert ids(action_prefix="role.") == {str(mine.id), str(theirs.id)}
    assert ids(actor=str(admin_user.id)) == {str(mine.id)}
    assert ids(resource_type="role", resource_id="r9") == {str(theirs.id)}
    assert ids(organization=str(other_org.id)) == {str(theirs.id)}
    after = (mine.created_at - dt.timedelta(microseconds=1)).isoformat()
    assert str(old.id) not in ids(created_after=mine.created_at.isoformat())
    assert str(mine.id) in ids(created_after=after)
    assert ids(created_before=(timezone.now() - dt.timedelta(days=1)).isoformat()) == set()
    assert admin_client.get("/api/audit-logs", {"created_after": "yesterday"}).status_code == 400
    assert admin_client.get("/api/audit-logs", {"actor": "nope"}).status_code == 400


def test_pagination_and_detail(admin_client):
    for _ in range(5):
        AuditLogFactory()
    page = admin_client.get("/api/audit-logs", {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] and page["previous"]
    entry = page["results"][0]
    assert admin_client.get(f"/api/audit-logs/{entry['id']}").json()["action"] == entry["action"]


def test_no_api_path_changes_or_deletes_an_entry(admin_client):
    entry = AuditLogFactory()
    for method in ("post", "put", "patch", "delete"):
        url = "/api/audit-logs" if method == "post" else f"/api/audit-logs/{entry.id}"
        assert getattr(admin_client, method)(url, {}, format="json").status_code == 405, method
    assert AuditLog.objects.filter(id=entry.id).exists()


def test_database_refuses_update_and_delete(org):
    entry = AuditLogFactory(organization=org)
    from django.db import connection

    for sql in ("UPDATE audit_auditlog SET action = 'x' WHERE id = %s", "DELETE FROM audit_auditlog WHERE id = %s"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.id])
    assert AuditLog.objects.get(id=entry.id).action == entry.action


# --- the admin site ---


@pytest.fixture
def site(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_site_changes_are_audited(site, admin_user, org):
    response = site.post(
        "/admin/orgs/organization/add/",
        {
            "name": "Admin Org",
            "domain": "ADMIN.example",
            "is_active": "on",
            "settings": "{}",
            "users-TOTAL_FORMS": "0",
            "users-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    created = Organization.objects.get(name="Admin Org")
    assert created.domain == "admin.example"
    entry = AuditLog.objects.get(action="organization.create", resource_id=str(created.id))
    assert entry.actor == admin_user
    assert entry.changes["via"] == "admin"

    response = site.post(
        "/admin/orgs/config/add/",
        {"key": "db_password", "config_type": "string", "value": '"pa55word!"', "description": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    entry = AuditLog.objects.get(action="config.create", resource_id=str(Config.objects.get(key="db_password").id))
    assert "pa55word!" not in str(entry.changes)

    response = site.post(
        "/admin/orgs/config/add/", {"key": "retries", "config_type": "int", "value": '"many"', "description": ""}
    )
    assert response.status_code == 200  # the form shows the typing error
    assert not Config.objects.filter(key="retries").exists()

    role = RoleFactory(organization=org)
    response = site.post(f"/admin/accounts/role/{role.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(id=role.id).exists()
    assert AuditLog.objects.filter(action="role.delete", resource_id=str(role.id), actor=admin_user).exists()


def test_admin_site_cannot_delete_organizations_or_touch_audit_entries(site, org):
    assert site.post(f"/admin/orgs/organization/{org.id}/delete/", {"post": "yes"}).status_code == 403
    entry = AuditLogFactory()
    assert site.post(f"/admin/audit/auditlog/{entry.id}/delete/", {"post": "yes"}).status_code == 403
    response = site.post(f"/admin/audit/auditlog/{entry.id}/change/", {"action": "tampered"})
    assert response.status_code == 403
    assert AuditLog.objects.get(id=entry.id).action == entry.action


def test_admin_site_deactivate_action_is_audited(site, admin_user, member):
    other = PlatformAdminFactory()
    assert site.get(f"/admin/accounts/user/{other.id}/change/").status_code == 200
    response = site.post(
        "/admin/orgs/organization/",
        {"action": "deactivate", "index": "0", "_selected_action": [str(member.organization_id)]},
    )
    assert response.status_code == 302
    member.organization.refresh_from_db()
    assert member.organization.is_active is False
    assert AuditLog.objects.filter(action="organization.update", actor=admin_user).exists()


def test_admin_site_user_change_and_inline_roles_are_audited(site, admin_user, org, member):
    role = RoleFactory(organization=org, name="Desk")
    response = site.post(
        f"/admin/accounts/user/{member.id}/change/",
        {
            "email": member.email,
            "name": "Changed In Admin",
            "user_type": "ORG",
            "organization": str(org.id),
            "is_active": "on",
            "user_roles-TOTAL_FORMS": "1",
            "user_roles-INITIAL_FORMS": "0",
            "user_roles-0-role": str(role.id),
            "user_roles-0-user": str(member.id),
        },
    )
    assert response.status_code == 302, response.content[:3000]
    member.refresh_from_db()
    assert member.name == "Changed In Admin"
    entries = AuditLog.objects.filter(resource_type="user", resource_id=str(member.id), actor=admin_user)
    changes = [e.changes for e in entries]
    assert any(c.get("after", {}).get("name") == "Changed In Admin" for c in changes)
    assert any("userrole_added" in c.get("after", {}) for c in changes)
    assert "password" not in str([c.get("after", {}) for c in changes if "name" in c.get("after", {})])
