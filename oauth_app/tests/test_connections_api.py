"""The OAuth connections API: validation, write-only client secret, scope and tenancy (DESIGN §4, §6)."""

import json

import pytest

from audit.models import AuditLog
from conftest import client_for
from oauth_app.models import OAuthConnection
from oauth_app.tests.factories import OAuthConnectionFactory, OAuthTokenFactory
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db

SECRET = "client-secret-never-shown-42"


def payload(**overrides):
    data = {
        "name": "graph",
        "description": "Microsoft Graph",
        "flow_type": "authorization_code",
        "client_id": "app-id",
        "client_secret": SECRET,
        "authorization_url": "https://login.example.com/authorize",
        "token_url": "https://login.example.com/token",
        "scopes": ["User.Read", "offline_access"],
    }
    data.update(overrides)
    return data


def test_create_authorization_code_connection_in_org_scope(admin_user, org):
    client = client_for(admin_user, org)
    response = client.post("/api/oauth/connections", payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization_id"] == str(org.id)
    assert body["status"] == "not_connected" and body["has_token"] is False and body["expires_at"] is None
    assert body["has_client_secret"] is True and "client_secret" not in body
    assert body["scopes"] == ["User.Read", "offline_access"]
    assert SECRET not in response.content.decode()
    conn = OAuthConnection.objects.get(name="graph")
    assert conn.client_secret == SECRET and conn.created_by_id == admin_user.id
    entry = AuditLog.objects.get(action="oauth_connection.create")
    assert SECRET not in json.dumps(entry.changes) and entry.changes["client_auth_changed"] is True


def test_responses_never_contain_the_client_secret(admin_client):
    OAuthTokenFactory(connection__organization=None, connection__name="c1", connection__client_secret=SECRET)
    for url in ("/api/oauth/connections", "/api/oauth/connections/c1"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
    body = admin_client.get("/api/oauth/connections/c1").json()
    assert body["has_token"] is True and body["expires_at"] and body["status"] == "completed"


def test_duplicate_name_in_scope_is_409(admin_client):
    assert admin_client.post("/api/oauth/connections", payload(), format="json").status_code == 201
    assert admin_client.post("/api/oauth/connections", payload(), format="json").status_code == 409


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"name": "bad name"}, "name"),
        ({"flow_type": "implicit"}, "flow_type"),
        ({"scopes": "User.Read"}, "scopes"),
        ({"scopes": ["has space"]}, "scopes"),
        ({"authorization_url": ""}, "authorization_url"),
        ({"token_url": "ftp://example.com/token"}, "token_url"),
        ({"token_url": "http://login.example.com/token"}, "token_url"),  # plain http off loopback in testing
        ({"flow_type": "client_credentials", "client_secret": ""}, "client_secret"),
        ({"extra_token_params": {"assertion": {"secret_ref": "missing"}}}, "extra_token_params"),
        ({"extra_token_params": {"assertion": {"nested": "x"}}}, "extra_token_params"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_client, overrides, field):
    response = admin_client.post("/api/oauth/connections", payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]


def test_https_is_required_outside_development(admin_client, settings):
    settings.ENVIRONMENT = "production"
    loopback = payload(authorization_url="http://127.0.0.1:9/authorize", token_url="http://127.0.0.1:9/token")
    response = admin_client.post("/api/oauth/connections", loopback, format="json")
    assert response.status_code == 400 and "token_url" in response.json()["details"]
    settings.ENVIRONMENT = "development"
    assert admin_client.post("/api/oauth/connections", loopback, format="json").status_code == 201


def test_loopback_http_is_accepted_in_testing(admin_client):
    loopback = payload(authorization_url="http://127.0.0.1:9/authorize", token_url="http://localhost:9/token")
    assert admin_client.post("/api/oauth/connections", loopback, format="json").status_code == 201


def test_extra_token_params_may_reference_a_secret(admin_user, org):
    SecretFactory(organization=None, name="assertion")
    client = client_for(admin_user, org)
    data = payload(extra_token_params={"resource": "https://graph.example", "a": {"secret_ref": "assertion"}})
    response = client.post("/api/oauth/connections", data, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["extra_token_params"]["a"] == {"secret_ref": "assertion"}


def test_update_keeps_the_secret_when_omitted_and_rejects_rename(admin_client):
    admin_client.post("/api/oauth/connections", payload(), format="json")
    response = admin_client.patch(
        "/api/oauth/connections/graph", {"description": "new", "scopes": ["a"]}, format="json"
    )
    assert response.status_code == 200, response.content
    conn = OAuthConnection.objects.get(name="graph")
    assert conn.client_secret == SECRET and conn.description == "new" and conn.scopes == ["a"]
    assert (
        admin_client.patch("/api/oauth/connections/graph", {"client_secret": "rotated"}, format="json").status_code
        == 200
    )
    conn.refresh_from_db()
    assert conn.client_secret == "rotated"
    assert admin_client.patch("/api/oauth/connections/graph", {"name": "other"}, format="json").status_code == 400
    response = admin_client.patch("/api/oauth/connections/graph", {"flow_type": "client_credentials"}, format="json")
    assert response.status_code == 400
    full = payload(client_secret="")
    assert admin_client.put("/api/oauth/connections/graph", full, format="json").status_code == 200
    conn.refresh_from_db()
    assert conn.client_secret == "rotated"
    for entry in AuditLog.objects.all():
        assert "rotated" not in json.dumps(entry.changes) and SECRET not in json.dumps(entry.changes)


def test_delete(admin_client):
    OAuthTokenFactory(connection__organization=None, connection__name="c1")
    assert admin_client.delete("/api/oauth/connections/c1").status_code == 204
    assert not OAuthConnection.objects.filter(name="c1").exists()
    assert AuditLog.objects.filter(action="oauth_connection.delete").exists()


# --- tenancy (the rest is in the generated matrix: oauth_app/tests/test_matrix.py) -----------


def test_global_connection_cannot_be_changed_from_an_org_scope(admin_user, org):
    OAuthConnectionFactory(organization=None, name="glob")
    client = client_for(admin_user, org)
    assert client.get("/api/oauth/connections/glob").status_code == 200
    response = client.patch("/api/oauth/connections/glob", {"description": "x"}, format="json")
    assert response.status_code == 403 and "GLOBAL" in response.json()["message"]
    assert client.delete("/api/oauth/connections/glob").status_code == 403
    assert client.post("/api/oauth/connections/glob/authorize").status_code == 403
    assert client.post("/api/oauth/connections/glob/refresh").status_code == 403


def test_lookup_by_name_prefers_the_org_row(admin_user, org):
    OAuthConnectionFactory(organization=None, name="dup")
    mine = OAuthConnectionFactory(organization=org, name="dup")
    assert client_for(admin_user, org).get("/api/oauth/connections/dup").json()["id"] == str(mine.id)
