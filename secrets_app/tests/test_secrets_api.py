"""The secrets API: scope, validation, write-only values, references and audit (DESIGN §6, §8)."""

import json

import pytest
from django.db import connection

from audit.models import AuditLog
from conftest import client_for
from oauth_app.tests.factories import OAuthConnectionFactory
from orgs.tests.factories import ConfigFactory
from secrets_app.models import Secret
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db

VALUE = "pa55w0rd-that-must-never-leak"


def _all_text_of_table(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
        return json.dumps(cursor.fetchall(), default=str)


def test_create_in_org_scope_lands_in_that_org_and_never_returns_the_value(admin_user, org):
    client = client_for(admin_user, org)
    response = client.post("/api/secrets", {"name": "psa_api_key", "value": VALUE, "description": "PSA"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization_id"] == str(org.id)
    assert body["name"] == "psa_api_key"
    assert VALUE not in response.content.decode()
    assert "value" not in body
    secret = Secret.objects.get(name="psa_api_key")
    assert secret.organization_id == org.id and secret.value == VALUE
    assert secret.created_by_id == admin_user.id
    # Not in plaintext anywhere in the database: the secret row or the audit log.
    assert VALUE not in _all_text_of_table("secrets_app_secret")
    assert VALUE not in _all_text_of_table("audit_auditlog")
    entry = AuditLog.objects.get(action="secret.create")
    assert entry.resource_id == str(secret.id) and entry.organization_id == org.id
    assert entry.changes["value_changed"] is True


def test_create_in_global_scope_and_duplicate_is_409(admin_client):
    assert admin_client.post("/api/secrets", {"name": "shared", "value": "x"}).status_code == 201
    response = admin_client.post("/api/secrets", {"name": "shared", "value": "y"})
    assert response.status_code == 409
    assert "shared" in response.json()["message"]


def test_same_name_may_exist_in_an_org_and_globally(admin_user, org):
    SecretFactory(organization=None, name="tenant_key")
    response = client_for(admin_user, org).post("/api/secrets", {"name": "tenant_key", "value": "org-value"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "bad name!", "value": "x"}, "name"),
        ({"name": "a" * 101, "value": "x"}, "name"),
        ({"name": "ok", "value": ""}, "value"),
        ({"name": "ok", "value": "x" * 65537}, "value"),
        ({"name": "ok"}, "value"),
        ({"value": "x"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_client, payload, field):
    response = admin_client.post("/api/secrets", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]


def test_value_of_maximum_length_is_accepted(admin_client):
    response = admin_client.post("/api/secrets", {"name": "big", "value": "x" * 65536}, format="json")
    assert response.status_code == 201
    assert Secret.objects.get(name="big").value == "x" * 65536


def test_list_in_org_scope_shows_org_and_global_rows_only_without_values(admin_user, org, other_org):
    mine = SecretFactory(organization=org, name="mine")
    glob = SecretFactory(organization=None, name="glob")
    SecretFactory(organization=other_org, name="theirs")
    response = client_for(admin_user, org).get("/api/secrets")
    assert response.status_code == 200
    body = response.json()
    items = {item["name"]: item for item in body["results"]}
    assert set(items) == {"mine", "glob"}
    assert items["mine"]["organization_id"] == str(org.id)
    assert items["glob"]["organization_id"] is None
    text = response.content.decode()
    assert mine.value not in text and glob.value not in text


def test_lookup_by_name_prefers_the_org_row(admin_user, org):
    glob = SecretFactory(organization=None, name="dup")
    mine = SecretFactory(organization=org, name="dup")
    assert client_for(admin_user, org).get("/api/secrets/dup").json()["id"] == str(mine.id)
    assert client_for(admin_user).get("/api/secrets/dup").json()["id"] == str(glob.id)


def test_update_value_and_description(admin_user, org):
    secret = SecretFactory(organization=org, name="rotate_me", value="old-value-1")
    client = client_for(admin_user, org)
    response = client.patch("/api/secrets/rotate_me", {"value": "new-value-2", "description": "new"})
    assert response.status_code == 200, response.content
    assert "new-value-2" not in response.content.decode()
    secret.refresh_from_db()
    assert secret.value == "new-value-2" and secret.description == "new"
    assert client.put("/api/secrets/rotate_me", {"description": "only description"}).status_code == 200
    secret.refresh_from_db()
    assert secret.value == "new-value-2" and secret.description == "only description"
    entry = AuditLog.objects.filter(action="secret.update").order_by("created_at").first()
    assert entry.changes["value_changed"] is True
    assert "old-value-1" not in json.dumps(entry.changes) and "new-value-2" not in json.dumps(entry.changes)
    assert "new-value-2" not in _all_text_of_table("audit_auditlog")


def test_update_rejects_rename_and_empty_body(admin_client):
    SecretFactory(organization=None, name="x1")
    assert admin_client.patch("/api/secrets/x1", {"name": "x2"}).status_code == 400
    assert admin_client.patch("/api/secrets/x1", {}).status_code == 400
    assert admin_client.patch("/api/secrets/x1", {"value": ""}).status_code == 400


def test_delete(admin_user, org):
    secret = SecretFactory(organization=org, name="gone")
    response = client_for(admin_user, org).delete("/api/secrets/gone")
    assert response.status_code == 204
    assert not Secret.objects.filter(id=secret.id).exists()
    assert AuditLog.objects.filter(action="secret.delete", resource_id=str(secret.id)).exists()


def test_delete_is_409_naming_config_keys_and_oauth_connections_that_reference_it(admin_user, org, other_org):
    SecretFactory(organization=org, name="graph_secret")
    ConfigFactory(organization=org, key="graph_key", config_type="secret_ref", value="graph_secret")
    ConfigFactory(organization=None, key="global_graph_key", config_type="secret_ref", value="graph_secret")
    ConfigFactory(organization=other_org, key="unrelated", config_type="secret_ref", value="graph_secret")
    ConfigFactory(organization=org, key="plain_string", config_type="string", value="graph_secret")
    OAuthConnectionFactory(
        organization=org, name="graph", extra_token_params={"client_assertion": {"secret_ref": "graph_secret"}}
    )
    response = client_for(admin_user, org).delete("/api/secrets/graph_secret")
    assert response.status_code == 409, response.content
    body = response.json()
    assert "graph_key" in body["message"] and "global_graph_key" in body["message"] and "graph" in body["message"]
    assert {c["key"] for c in body["details"]["config_keys"]} == {"graph_key", "global_graph_key"}
    assert [c["name"] for c in body["details"]["oauth_connections"]] == ["graph"]
    assert Secret.objects.filter(name="graph_secret").exists()


def test_delete_of_a_global_secret_ignores_orgs_that_have_their_own(admin_client, org, other_org):
    SecretFactory(organization=None, name="api")
    SecretFactory(organization=org, name="api")
    ConfigFactory(organization=org, key="uses_own", config_type="secret_ref", value="api")
    assert admin_client.delete("/api/secrets/api").status_code == 204
    SecretFactory(organization=None, name="api")
    ConfigFactory(organization=other_org, key="uses_global", config_type="secret_ref", value="api")
    response = admin_client.delete("/api/secrets/api")
    assert response.status_code == 409
    assert [c["key"] for c in response.json()["details"]["config_keys"]] == ["uses_global"]


# --- tenancy (the rest is in the generated matrix: secrets_app/tests/test_matrix.py) ----------


def test_an_orgs_secret_is_404_in_global_scope(admin_client, org):
    SecretFactory(organization=org, name="theirs")
    assert admin_client.get("/api/secrets/theirs").status_code == 404


def test_global_row_cannot_be_changed_from_an_org_scope(admin_user, org):
    secret = SecretFactory(organization=None, name="glob", value="keep")
    client = client_for(admin_user, org)
    response = client.patch("/api/secrets/glob", {"value": "changed"})
    assert response.status_code == 403
    assert "GLOBAL" in response.json()["message"]
    assert client.delete("/api/secrets/glob").status_code == 403
    secret.refresh_from_db()
    assert secret.value == "keep"
