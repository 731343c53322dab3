import pytest

from audit.models import AuditLog
from conftest import client_for
from orgs.models import Config
from orgs.selectors import ConfigNotFound, config_effective, config_resolve
from orgs.tests.factories import ConfigFactory
from secrets_app.selectors import SecretNotFound
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db


def post(client, key, value, config_type="string", **extra):
    return client.post("/api/config", {"key": key, "value": value, "config_type": config_type, **extra}, format="json")


@pytest.mark.parametrize(
    ("config_type", "value", "stored"),
    [
        ("string", "hello", "hello"),
        ("int", 42, 42),
        ("int", "17", 17),
        ("bool", True, True),
        ("bool", "false", False),
        ("json", {"a": [1, 2]}, {"a": [1, 2]}),
    ],
)
def test_typed_values_are_parsed_on_write(admin_client, config_type, value, stored):
    response = post(admin_client, "typed", value, config_type)
    assert response.status_code == 201, response.content
    assert response.json()["value"] == stored
    assert Config.objects.get(key="typed").value == stored


@pytest.mark.parametrize(
    ("config_type", "value"),
    [("int", "abc"), ("int", True), ("int", 1.5), ("bool", "maybe"), ("string", 5), ("secret_ref", "")],
)
def test_values_that_do_not_match_the_type_are_400_naming_value(admin_client, config_type, value):
    response = post(admin_client, "bad", value, config_type)
    assert response.status_code == 400, response.content
    assert "value" in response.json()["details"]
    assert not Config.objects.filter(key="bad").exists()


def test_bad_key_and_type_are_400(admin_client):
    assert "key" in post(admin_client, "has space", "x").json()["details"]
    assert "config_type" in post(admin_client, "ok", "x", "float").json()["details"]


def test_update_revalidates_the_value(admin_client):
    ConfigFactory(key="retries", value=3, config_type="int", organization=None)
    response = admin_client.patch("/api/config/retries", {"value": "three"}, format="json")
    assert response.status_code == 400
    assert "value" in response.json()["details"]
    assert admin_client.patch("/api/config/retries", {"value": "5"}, format="json").json()["value"] == 5
    response = admin_client.patch("/api/config/retries", {"key": "other"}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()["details"]


def test_secret_ref_must_name_a_secret_visible_in_scope(admin_user, org, other_org):
    SecretFactory(name="org_secret", organization=org)
    SecretFactory(name="their_secret", organization=other_org)
    SecretFactory(name="global_secret", organization=None)
    scoped = client_for(admin_user, org)
    assert post(scoped, "a", "org_secret", "secret_ref").status_code == 201
    assert post(scoped, "b", "global_secret", "secret_ref").status_code == 201
    response = post(scoped, "c", "their_secret", "secret_ref")
    assert response.status_code == 400
    assert "their_secret" in response.json()["details"]["value"][0]
    # GLOBAL scope cannot reference an organization's secret
    assert post(client_for(admin_user), "d", "org_secret", "secret_ref").status_code == 400


def test_duplicate_key_in_scope_is_409_but_org_may_override_global(admin_user, org):
    glob = client_for(admin_user)
    assert post(glob, "timeout", "10").status_code == 201
    assert post(glob, "timeout", "11").status_code == 409
    scoped = client_for(admin_user, org)
    assert post(scoped, "timeout", "20").status_code == 201
    assert post(scoped, "timeout", "21").status_code == 409


def test_lookup_prefers_org_row_and_effective_reports_source(admin_user, org, other_org):
    ConfigFactory(key="region", value="eu", organization=None)
    ConfigFactory(key="region", value="us", organization=org)
    ConfigFactory(key="limit", value=5, config_type="int", organization=None)
    scoped = client_for(admin_user, org)
    assert scoped.get("/api/config/region").json()["value"] == "us"
    assert scoped.get("/api/config/region/effective").json() == {
        "key": "region",
        "value": "us",
        "config_type": "string",
        "source": "organization",
        "organization_id": str(org.id),
    }
    effective = scoped.get("/api/config/limit/effective").json()
    assert (effective["value"], effective["source"]) == (5, "global")
    other = client_for(admin_user, other_org).get("/api/config/region/effective").json()
    assert (other["value"], other["source"]) == ("eu", "global")
    assert client_for(admin_user).get("/api/config/region").json()["value"] == "eu"
    assert scoped.get("/api/config/missing/effective").status_code == 404


def test_list_in_org_scope_shows_org_and_global_rows_with_organization_id(admin_user, org):
    ConfigFactory(key="g", organization=None)
    ConfigFactory(key="o", organization=org)
    rows = client_for(admin_user, org).get("/api/config").json()["results"]
    assert {(r["key"], r["organization_id"]) for r in rows} == {("g", None), ("o", str(org.id))}


def test_list_masks_values_of_secret_looking_keys(admin_client):
    for key in ("smtp_password", "api_key", "client_secret", "github_token", "db_credential"):
        ConfigFactory(key=key, value="hunter2", organization=None)
    ConfigFactory(key="region", value="eu", organization=None)
    rows = {r["key"]: r["value"] for r in admin_client.get("/api/config").json()["results"]}
    assert rows.pop("region") == "eu"
    assert set(rows.values()) == {"***"}
    assert "hunter2" not in admin_client.get("/api/config").content.decode()


def test_changing_a_global_row_from_org_scope_is_403(admin_user, org):
    ConfigFactory(key="shared", value="x", organization=None)
    scoped = client_for(admin_user, org)
    for method in ("patch", "put", "delete"):
        response = getattr(scoped, method)("/api/config/shared", {"key": "shared", "value": "y"}, format="json")
        assert response.status_code == 403, method
        assert "GLOBAL scope" in response.json()["message"]
    assert Config.objects.get(key="shared").value == "x"
    assert client_for(admin_user).delete("/api/config/shared").status_code == 204


def test_config_resolve_falls_back_from_org_to_global(org, other_org):
    ConfigFactory(key="greeting", value="hello", organization=None)
    ConfigFactory(key="greeting", value="hi", organization=org)
    ConfigFactory(key="enabled", value=True, config_type="bool", organization=None)
    ConfigFactory(key="opts", value={"x": 1}, config_type="json", organization=other_org)
    assert config_resolve(organization_id=org.id, key="greeting") == "hi"
    assert config_resolve(organization_id=other_org.id, key="greeting") == "hello"
    assert config_resolve(organization_id=None, key="greeting") == "hello"
    assert config_resolve(organization_id=org.id, key="enabled") is True
    assert config_resolve(organization_id=other_org.id, key="opts") == {"x": 1}
    with pytest.raises(ConfigNotFound) as info:
        config_resolve(organization_id=org.id, key="opts")
    assert isinstance(info.value, KeyError)
    assert "opts" in str(info.value)


def test_config_resolve_resolves_secret_refs_org_first(org, other_org):
    SecretFactory(name="smtp", value="global-pass", organization=None)
    SecretFactory(name="smtp", value="org-pass", organization=org)
    ConfigFactory(key="smtp_login", value="smtp", config_type="secret_ref", organization=None)
    assert config_resolve(organization_id=org.id, key="smtp_login") == "org-pass"
    assert config_resolve(organization_id=other_org.id, key="smtp_login") == "global-pass"
    # the effective view (what the API shows) never resolves the secret
    assert config_effective(organization_id=org.id, key="smtp_login").value == "smtp"
    ConfigFactory(key="dangling", value="gone", config_type="secret_ref", organization=None)
    with pytest.raises(SecretNotFound, match="gone"):
        config_resolve(organization_id=org.id, key="dangling")


def test_config_changes_are_audited_with_secret_values_redacted(admin_client, admin_user):
    assert post(admin_client, "region", "eu").status_code == 201
    assert post(admin_client, "smtp_password", "hunter2").status_code == 201
    admin_client.patch("/api/config/region", {"value": "us"}, format="json")
    admin_client.delete("/api/config/smtp_password")
    update = AuditLog.objects.get(action="config.update", resource_id="region")
    assert update.actor == admin_user
    assert update.changes["before"]["value"] == "eu"
    assert update.changes["after"]["value"] == "us"
    created = AuditLog.objects.get(action="config.create", resource_id="smtp_password")
    assert created.changes["after"]["value"] == "***"
    assert AuditLog.objects.filter(action="config.delete", resource_id="smtp_password").exists()
    for entry in AuditLog.objects.all():
        assert "hunter2" not in str(entry.changes)
