import pytest
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from audit.models import AuditLog
from bifrost_site.scope import resolve_scope
from conftest import client_for
from orgs.models import Organization
from orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_create_normalizes_domain_and_audits(admin_client, admin_user):
    response = admin_client.post("/api/organizations", {"name": "Acme", "domain": "  Acme.COM "}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == "acme.com"
    assert body["is_active"] is True
    entry = AuditLog.objects.get(action="organization.create", resource_id=body["id"])
    assert entry.actor == admin_user
    assert entry.changes["after"]["domain"] == "acme.com"
    assert entry.ip_address == "127.0.0.1"
    assert entry.request_id


@pytest.mark.parametrize("domain", ["user@acme.com", "localhost", "has space.com"])
def test_create_rejects_bad_domains_naming_the_field(admin_client, domain):
    response = admin_client.post("/api/organizations", {"name": "Acme", "domain": domain}, format="json")
    assert response.status_code == 400
    assert "domain" in response.json()["details"]


def test_duplicate_domain_is_409_case_insensitively(admin_client):
    OrganizationFactory(domain="acme.com")
    response = admin_client.post("/api/organizations", {"name": "Acme 2", "domain": "ACME.com"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    other = OrganizationFactory(domain="other.com")
    response = admin_client.patch(f"/api/organizations/{other.id}", {"domain": "acme.com"}, format="json")
    assert response.status_code == 409


def test_empty_name_is_400(admin_client):
    response = admin_client.post("/api/organizations", {"name": ""}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["details"]


def test_list_filters_search_and_ordering(admin_client):
    OrganizationFactory(name="Alpha", domain="alpha.example")
    OrganizationFactory(name="Beta", domain="beta.example", is_active=False)
    OrganizationFactory(name="Gamma", domain="gamma.example")
    names = lambda r: [o["name"] for o in r.json()["results"]]  # noqa: E731
    assert names(admin_client.get("/api/organizations", {"is_active": "false"})) == ["Beta"]
    assert names(admin_client.get("/api/organizations", {"q": "gamma.ex"})) == ["Gamma"]
    assert names(admin_client.get("/api/organizations", {"ordering": "-name"})) == ["Gamma", "Beta", "Alpha"]
    assert admin_client.get("/api/organizations").json()["count"] == 3


def test_delete_deactivates_and_locks_out_its_users(admin_client, org, member, api_client):
    login = api_client.post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}, format="json")
    assert login.status_code == 200
    refresh = login.json()["refresh_token"]
    member_client = client_for(member)
    assert member_client.get("/auth/me").status_code == 200

    response = admin_client.delete(f"/api/organizations/{org.id}")
    assert response.status_code == 204
    org.refresh_from_db()
    assert org.is_active is False
    assert Organization.objects.filter(id=org.id).exists()
    assert member.__class__.objects.filter(id=member.id).exists()  # data kept
    assert AuditLog.objects.filter(action="organization.deactivate", resource_id=str(org.id)).exists()

    relogin = api_client.post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}, format="json")
    assert relogin.status_code == 403
    # deactivation ended the member's sessions: the refresh token is revoked (issue 18 item 2)
    assert api_client.post("/auth/refresh", {"refresh_token": refresh}, format="json").status_code == 401
    assert member_client.get("/auth/me").status_code == 401
    # the admin can no longer act inside it, but can still see and reactivate it from GLOBAL scope
    assert admin_client.get(f"/api/organizations/{org.id}").json()["is_active"] is False
    assert admin_client.patch(f"/api/organizations/{org.id}", {"is_active": True}, format="json").status_code == 200
    assert api_client.post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).status_code == 200


def test_admin_scoped_to_inactive_or_unknown_org_is_404(admin_user):
    inactive = OrganizationFactory(is_active=False)
    assert client_for(admin_user, inactive).get("/api/users").status_code == 404
    response = client_for(admin_user, "6f0e5f0c-0000-4000-8000-000000000000").get("/api/users")
    assert response.status_code == 404


def test_malformed_scope_header_is_400(admin_user):
    response = client_for(admin_user, "not-a-uuid").get("/api/users")
    assert response.status_code == 400
    assert "X-Organization-Id" in response.json()["details"]


def test_scope_resolution_for_org_users(org, other_org, member):
    assert resolve_scope(member, None).organization == org
    assert resolve_scope(member, str(org.id)).organization == org
    with pytest.raises(PermissionDenied):
        resolve_scope(member, str(other_org.id))
    with pytest.raises(ValidationError):
        resolve_scope(member, "zzz")


def test_scope_resolution_for_admins(org, admin_user):
    assert resolve_scope(admin_user, None).is_global
    assert resolve_scope(admin_user, f" {org.id} ").organization == org
    org.is_active = False
    org.save()
    with pytest.raises(NotFound):
        resolve_scope(admin_user, str(org.id))


def test_org_user_cannot_reach_admin_endpoints_even_for_own_org(member_client, org):
    UserFactory(organization=org)
    for url in (
        "/api/organizations",
        f"/api/organizations/{org.id}",
        "/api/users",
        "/api/roles",
        "/api/config",
        "/api/audit-logs",
    ):
        assert member_client.get(url).status_code == 403, url
