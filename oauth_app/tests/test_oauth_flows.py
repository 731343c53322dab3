"""OAuth flows against a real OAuth 2 server on loopback (oauth_app/tests/provider.py). No mocked HTTP."""

import datetime
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.utils import timezone

from audit.models import AuditLog
from conftest import client_for
from oauth_app import client as oauth_client
from oauth_app.models import ConnectionStatus, FlowType, OAuthConnection, OAuthRefreshRun, OAuthState, OAuthToken
from oauth_app.services import (
    ConnectionNotFound,
    ConnectionNotReady,
    ProviderRequestFailed,
    connection_refresh,
    oauth_token_for_workflow,
    refresh_expiring_tokens,
)
from oauth_app.tests.factories import OAuthTokenFactory

pytestmark = pytest.mark.django_db

CLIENT_SECRET = "provider-client-secret-123"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr(oauth_client, "RETRY_BACKOFF_FACTOR", 0.01)


def make_connection(provider, *, organization=None, flow=FlowType.AUTHORIZATION_CODE, name="graph", **extra):
    return OAuthConnection.objects.create(
        name=name,
        organization=organization,
        flow_type=flow,
        client_id="bifrost-client",
        client_secret=CLIENT_SECRET,
        authorization_url=provider.authorize_url,
        token_url=provider.token_url,
        scopes=["User.Read", "offline_access"],
        **extra,
    )


def start(client, name="graph"):
    response = client.post(f"/api/oauth/connections/{name}/authorize")
    assert response.status_code == 200, response.content
    return response.json()["authorization_url"]


def callback(client, query: dict):
    return client.get("/oauth/callback", query)


def connect(provider, client, name="graph"):
    url = start(client, name)
    answer = provider.authorize(url)
    return callback(client, {"code": answer["code"], "state": answer["state"]})


def raw_dump(*tables) -> str:
    rows = []
    with db.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            rows.extend(cursor.fetchall())
    return json.dumps(rows, default=str)


# --- authorization code ------------------------------------------------------------------------


def test_authorization_code_flow_end_to_end(provider, admin_user, org):
    conn = make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    url = start(client)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.authorize_url)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["scope"] == ["User.Read offline_access"]
    assert query["redirect_uri"] == ["http://testserver/oauth/callback"]
    state = OAuthState.objects.get(connection=conn)
    assert state.organization_id == org.id and state.requested_by_id == admin_user.id
    assert query["state"][0] not in state.state_hash  # stored hashed
    assert state.expires_at - timezone.now() <= datetime.timedelta(minutes=10)
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.WAITING_CALLBACK

    answer = provider.authorize(url)
    response = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert response.status_code == 200, response.content
    assert b"Connected" in response.content and b"graph" in response.content

    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.COMPLETED and conn.last_refresh_at is not None
    token = OAuthToken.objects.get(connection=conn)
    assert token.access_token.startswith("at-") and token.refresh_token.startswith("rt-")
    assert token.scopes == ["User.Read", "offline_access"]
    assert token.expires_at > timezone.now() + datetime.timedelta(minutes=50)

    (exchange,) = provider.token_requests("authorization_code")
    assert exchange.form["scope"] == "User.Read offline_access"
    assert exchange.form["redirect_uri"] == "http://testserver/oauth/callback"
    assert exchange.form["code_verifier"]

    body = client.get("/api/oauth/connections/graph").json()
    assert body["status"] == "completed" and body["has_token"] is True and body["expires_at"]
    assert AuditLog.objects.filter(action="oauth_connection.connect", actor=admin_user).exists()
    # Nothing secret in plaintext in the database.
    dump = raw_dump("oauth_app_oauthconnection", "oauth_app_oauthtoken", "oauth_app_oauthstate", "audit_auditlog")
    assert CLIENT_SECRET not in dump and token.access_token not in dump and token.refresh_token not in dump


def test_tampered_state_is_refused(provider, admin_user, org):
    make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    answer = provider.authorize(start(client))
    response = callback(client, {"code": answer["code"], "state": answer["state"] + "x"})
    assert response.status_code == 400
    assert b"Unknown state" in response.content
    assert not provider.token_requests()
    assert callback(client, {"code": answer["code"]}).status_code == 400  # no state at all


def test_reused_state_is_refused(provider, admin_user, org):
    make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    answer = provider.authorize(start(client))
    assert callback(client, {"code": answer["code"], "state": answer["state"]}).status_code == 200
    response = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert response.status_code == 400 and b"already used" in response.content
    assert len(provider.token_requests()) == 1


def test_expired_state_is_refused(provider, admin_user, org):
    conn = make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    answer = provider.authorize(start(client))
    OAuthState.objects.filter(connection=conn).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert response.status_code == 400 and b"expired" in response.content
    assert not provider.token_requests()
    assert OAuthState.objects.get(connection=conn).used_at is not None  # burnt, cannot be retried


def test_code_reuse_is_rejected_by_the_provider_and_the_connection_fails(provider, admin_user, org):
    make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    first = provider.authorize(start(client))
    assert callback(client, {"code": first["code"], "state": first["state"]}).status_code == 200
    second = provider.authorize(start(client))
    response = callback(client, {"code": first["code"], "state": second["state"]})  # old code, fresh state
    assert response.status_code == 502
    assert b"already used" in response.content
    conn = OAuthConnection.objects.get(name="graph")
    assert conn.status == ConnectionStatus.FAILED and "already used" in conn.status_message


def test_pkce_verifier_must_match(provider, admin_user, org):
    """The provider refuses a code whose challenge was not made from the stored verifier."""
    conn = make_connection(provider, organization=org)
    client = client_for(admin_user, org)
    answer = provider.authorize(start(client))
    state = OAuthState.objects.get(connection=conn)
    state.code_verifier = "a-different-verifier-" + "x" * 40
    state.save()
    response = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert response.status_code == 502 and b"PKCE verification failed" in response.content
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.FAILED


def test_provider_consent_error_sets_failed(provider, admin_user, org):
    make_connection(provider, organization=org)
    provider.state.consent_error = "access_denied"
    client = client_for(admin_user, org)
    answer = provider.authorize(start(client))
    response = callback(
        client, {"error": answer["error"], "error_description": answer["error_description"], "state": answer["state"]}
    )
    assert response.status_code == 400 and b"access_denied" in response.content
    conn = OAuthConnection.objects.get(name="graph")
    assert conn.status == ConnectionStatus.FAILED and "access_denied" in conn.status_message


def test_authorize_is_refused_for_client_credentials(provider, admin_client):
    make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    assert admin_client.post("/api/oauth/connections/graph/authorize").status_code == 400


# --- refresh -----------------------------------------------------------------------------------


def test_refresh_with_a_new_refresh_token(provider, admin_user, org):
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    connect(provider, client)
    old = OAuthToken.objects.get()
    response = client.post("/api/oauth/connections/graph/refresh")
    assert response.status_code == 200, response.content
    new = OAuthToken.objects.get()
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    (request,) = provider.token_requests("refresh_token")
    assert request.form["refresh_token"] == old.refresh_token
    assert request.form["scope"] == "User.Read offline_access"
    assert response.json()["status"] == "completed" and response.json()["last_refresh_at"]


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(provider, admin_user, org):
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    connect(provider, client)
    provider.state.rotate_refresh_tokens = False
    old = OAuthToken.objects.get()
    assert client.post("/api/oauth/connections/graph/refresh").status_code == 200
    new = OAuthToken.objects.get()
    assert new.access_token != old.access_token
    assert new.refresh_token == old.refresh_token
    assert client.post("/api/oauth/connections/graph/refresh").status_code == 200  # still works next time


def test_provider_4xx_is_not_retried_and_sets_failed(provider, admin_user, org):
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    connect(provider, client)
    provider.state.fail_4xx = (400, {"error": "invalid_grant", "error_description": "Token revoked by admin"})
    response = client.post("/api/oauth/connections/graph/refresh")
    assert response.status_code == 502
    assert "Token revoked by admin" in response.json()["message"]
    assert len(provider.token_requests("refresh_token")) == 1
    body = client.get("/api/oauth/connections/graph").json()
    assert body["status"] == "failed" and "invalid_grant: Token revoked by admin" in body["status_message"]


def test_provider_5xx_is_retried_three_times(provider, admin_client):
    provider.state.fail_5xx_times = 100
    conn = make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    with pytest.raises(ProviderRequestFailed):
        connection_refresh(connection=conn)
    assert len(provider.token_requests("client_credentials")) == 4  # 1 attempt + 3 retries
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.FAILED and "HTTP 503" in conn.status_message


def test_provider_5xx_then_success_recovers(provider):
    provider.state.fail_5xx_times = 2
    conn = make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    connection_refresh(connection=conn)
    assert len(provider.token_requests("client_credentials")) == 3
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.COMPLETED


def test_network_error_sets_failed(provider, closed_port_url):
    conn = make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    conn.token_url = closed_port_url
    conn.save()
    with pytest.raises(ProviderRequestFailed, match="Could not reach the token endpoint"):
        connection_refresh(connection=conn)
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.FAILED and "after 3 retries" in conn.status_message


def test_refresh_of_a_never_authorized_connection_is_400(provider, admin_client):
    make_connection(provider)
    response = admin_client.post("/api/oauth/connections/graph/refresh")
    assert response.status_code == 400 and "authorize" in response.json()["message"]
    assert not provider.token_requests()


# --- client credentials ------------------------------------------------------------------------


def test_client_credentials_fetches_a_token_on_create_and_on_refresh(provider, admin_user, org):
    client = client_for(admin_user, org)
    payload = {
        "name": "psa",
        "flow_type": "client_credentials",
        "client_id": "bifrost-client",
        "client_secret": CLIENT_SECRET,
        "token_url": provider.token_url,
        "scopes": ["api.read", "api.write"],
    }
    response = client.post("/api/oauth/connections", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed" and body["has_token"] and body["organization_id"] == str(org.id)
    assert CLIENT_SECRET not in response.content.decode()
    (request,) = provider.token_requests("client_credentials")
    assert request.form["scope"] == "api.read api.write"
    assert request.form["client_secret"] == CLIENT_SECRET  # client_secret_post
    first = OAuthToken.objects.get().access_token
    assert client.post("/api/oauth/connections/psa/refresh").status_code == 200
    assert OAuthToken.objects.get().access_token != first
    assert len(provider.token_requests("client_credentials")) == 2
    assert CLIENT_SECRET not in raw_dump("oauth_app_oauthconnection", "oauth_app_oauthtoken", "audit_auditlog")
    for entry in AuditLog.objects.all():
        assert CLIENT_SECRET not in json.dumps(entry.changes)


def test_client_credentials_create_with_a_provider_error_is_saved_as_failed(provider, admin_client):
    provider.state.fail_4xx = (401, {"error": "invalid_client", "error_description": "Unknown client"})
    payload = {
        "name": "psa",
        "flow_type": "client_credentials",
        "client_id": "bifrost-client",
        "client_secret": "wrong",
        "token_url": provider.token_url,
    }
    response = admin_client.post("/api/oauth/connections", payload, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "failed" and "Unknown client" in response.json()["status_message"]


def test_extra_token_params_send_a_referenced_secrets_value(provider, org):
    from secrets_app.tests.factories import SecretFactory

    SecretFactory(organization=None, name="assertion", value="global-assertion")
    SecretFactory(organization=org, name="assertion", value="org-assertion")
    conn = make_connection(
        provider,
        organization=org,
        flow=FlowType.CLIENT_CREDENTIALS,
        extra_token_params={"resource": "https://graph.example", "client_assertion": {"secret_ref": "assertion"}},
    )
    connection_refresh(connection=conn)
    (request,) = provider.token_requests("client_credentials")
    assert request.form["client_assertion"] == "org-assertion"
    assert request.form["resource"] == "https://graph.example"


# --- the refresh task --------------------------------------------------------------------------


def test_refresh_task_refreshes_only_expiring_completed_connections(provider, admin_client, org, other_org):
    provider.state.expires_in = 600  # 10 minutes: inside the 30-minute window
    expiring = [
        make_connection(provider, organization=None, flow=FlowType.CLIENT_CREDENTIALS, name="global_cc"),
        make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS, name="org_cc"),
        make_connection(provider, organization=other_org, flow=FlowType.CLIENT_CREDENTIALS, name="other_cc"),
    ]
    for conn in expiring:
        connection_refresh(connection=conn)
    provider.state.expires_in = 3600
    fresh = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS, name="fresh")
    connection_refresh(connection=fresh)
    failed = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS, name="failed_one")
    OAuthTokenFactory(connection=failed, expires_at=timezone.now() + datetime.timedelta(minutes=1))
    OAuthConnection.objects.filter(pk=failed.pk).update(status=ConnectionStatus.FAILED)
    broken = make_connection(provider, organization=org, flow=FlowType.AUTHORIZATION_CODE, name="broken")
    OAuthTokenFactory(connection=broken, refresh_token="rt-unknown", expires_at=timezone.now())
    OAuthConnection.objects.filter(pk=broken.pk).update(status=ConnectionStatus.COMPLETED)

    tokens_before = {t.connection_id: t.access_token for t in OAuthToken.objects.all()}
    from oauth_app.tasks import refresh_expiring_tokens_task

    result = refresh_expiring_tokens_task.apply().get()
    assert result["checked"] == 5 and result["refreshed"] == 3 and result["failed"] == 1

    tokens_after = {t.connection_id: t.access_token for t in OAuthToken.objects.all()}
    for conn in expiring:
        assert tokens_after[conn.id] != tokens_before[conn.id]
    assert tokens_after[fresh.id] == tokens_before[fresh.id]
    assert tokens_after[failed.id] == tokens_before[failed.id]
    broken.refresh_from_db()
    assert broken.status == ConnectionStatus.FAILED and "Unknown or revoked refresh token" in broken.status_message

    run = OAuthRefreshRun.objects.get()
    assert {d["name"] for d in run.details} == {"global_cc", "org_cc", "other_cc", "broken"}
    job = admin_client.get("/api/oauth/refresh-job").json()
    assert job["interval_seconds"] == 900 and job["window_minutes"] == 30
    assert job["last_run"]["checked"] == 5 and job["last_run"]["refreshed"] == 3 and job["last_run"]["failed"] == 1


def test_refresh_task_deletes_old_authorization_states(provider, admin_client):
    conn = make_connection(provider)
    start(admin_client)
    start(admin_client)
    OAuthState.objects.filter(pk=OAuthState.objects.first().pk).update(
        expires_at=timezone.now() - datetime.timedelta(days=2)
    )
    refresh_expiring_tokens()
    assert OAuthState.objects.filter(connection=conn).count() == 1


def test_refresh_job_before_any_run(admin_client):
    assert admin_client.get("/api/oauth/refresh-job").json()["last_run"] is None


def test_refresh_task_is_a_periodic_task_every_15_minutes():
    from bifrost_site.periodic import PERIODIC_TASKS

    (spec,) = [s for s in PERIODIC_TASKS if s.task == "oauth_app.refresh_expiring_tokens"]
    assert spec.every_seconds == 900


def test_an_authorization_code_connection_refreshes_on_its_own_before_expiry(provider, admin_user, org):
    provider.state.expires_in = 60
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    connect(provider, client)
    old = OAuthToken.objects.get()
    run = refresh_expiring_tokens()
    assert run.refreshed == 1
    new = OAuthToken.objects.get()
    assert new.access_token != old.access_token


# --- for workflows -----------------------------------------------------------------------------


def test_token_for_workflow_org_then_global(provider, org, other_org):
    global_conn = make_connection(provider, organization=None, flow=FlowType.CLIENT_CREDENTIALS)
    org_conn = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS)
    connection_refresh(connection=global_conn)
    connection_refresh(connection=org_conn)
    org_token = oauth_token_for_workflow(organization_id=org.id, name="graph")
    other_token = oauth_token_for_workflow(organization_id=other_org.id, name="graph")
    assert org_token["access_token"] == OAuthToken.objects.get(connection=org_conn).access_token
    assert other_token["access_token"] == OAuthToken.objects.get(connection=global_conn).access_token
    assert set(org_token) == {"access_token", "token_type", "expires_at", "scopes"}
    assert org_token["token_type"] == "Bearer" and org_token["scopes"] == ["User.Read", "offline_access"]
    json.dumps(org_token)  # JSON-safe for the SDK
    assert len(provider.token_requests()) == 2  # valid tokens are not refreshed


def test_token_for_workflow_refreshes_when_expiring_within_5_minutes(provider, org):
    provider.state.expires_in = 240  # 4 minutes
    conn = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS)
    connection_refresh(connection=conn)
    old = OAuthToken.objects.get().access_token
    provider.state.expires_in = 3600
    token = oauth_token_for_workflow(organization_id=org.id, name="graph")
    assert token["access_token"] != old
    assert datetime.datetime.fromisoformat(token["expires_at"]) > timezone.now() + datetime.timedelta(minutes=50)


def test_token_for_workflow_errors(provider, org):
    with pytest.raises(ConnectionNotFound, match="'missing'"):
        oauth_token_for_workflow(organization_id=org.id, name="missing")
    make_connection(provider, organization=org)
    with pytest.raises(ConnectionNotReady, match="'graph' has no token"):
        oauth_token_for_workflow(organization_id=org.id, name="graph")


def test_token_for_workflow_expired_and_refresh_fails(provider, org):
    conn = make_connection(provider, organization=org)
    OAuthTokenFactory(connection=conn, refresh_token="rt-unknown", expires_at=timezone.now() - datetime.timedelta(1))
    OAuthConnection.objects.filter(pk=conn.pk).update(status=ConnectionStatus.COMPLETED)
    with pytest.raises(ConnectionNotReady, match="could not be refreshed.*revoked refresh token"):
        oauth_token_for_workflow(organization_id=org.id, name="graph")


def test_token_for_workflow_still_valid_token_survives_a_failed_refresh(provider, org):
    conn = make_connection(provider, organization=org)
    OAuthTokenFactory(
        connection=conn,
        access_token="still-valid",
        refresh_token="rt-unknown",
        expires_at=timezone.now() + datetime.timedelta(minutes=2),
    )
    OAuthConnection.objects.filter(pk=conn.pk).update(status=ConnectionStatus.COMPLETED)
    assert oauth_token_for_workflow(organization_id=org.id, name="graph")["access_token"] == "still-valid"


def test_backoff_is_small(provider, closed_port_url, monkeypatch):
    monkeypatch.setattr(oauth_client, "RETRY_BACKOFF_FACTOR", 0.2)
    conn = make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    conn.token_url = closed_port_url
    conn.save()
    started = time.monotonic()
    with pytest.raises(ProviderRequestFailed):
        connection_refresh(connection=conn)
    assert time.monotonic() - started < 8  # 3 retries with sub-second backoff, not minutes


# --- what a token request sends and keeps (issue 18 item 12) -----------------------------------


@pytest.fixture
def elsewhere():
    """A second provider, standing for wherever a redirect points; it would accept the same client."""
    from oauth_app.tests.provider import OAuthProvider

    server = OAuthProvider().start()
    server.register_client("bifrost-client", CLIENT_SECRET)
    yield server
    server.stop()


@pytest.mark.parametrize("status", [307, 308, 302, 301])
def test_a_token_request_follows_no_redirect_and_sends_the_secret_nowhere_else(provider, elsewhere, status):
    provider.state.redirect_token_to = (status, elsewhere.token_url)
    conn = make_connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    with pytest.raises(ProviderRequestFailed, match=f"HTTP {status} \\(a redirect\\)"):
        connection_refresh(connection=conn)
    assert elsewhere.state.requests == []  # nothing, the client secret least of all, went to the new location
    assert len(provider.token_requests("client_credentials")) == 1  # a 3xx is not retried either
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.FAILED
    assert "do not follow redirects" in conn.status_message
    assert not OAuthToken.objects.filter(connection=conn).exists()


def test_a_redirected_code_exchange_fails_without_sending_the_code_on(provider, elsewhere, admin_user, org):
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    answer = provider.authorize(start(client))
    provider.state.redirect_token_to = (307, elsewhere.token_url)
    response = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert response.status_code == 502
    assert elsewhere.state.requests == []
    assert OAuthConnection.objects.get().status == ConnectionStatus.FAILED


VERBOSE_DESCRIPTION = "The refresh token was revoked. " + "detail " * 400
LEAKED = "Traceback (most recent call last): File /srv/idp/handlers.py db_password=hunter2"


@pytest.mark.parametrize(
    "status, body",
    [
        (400, {"error": "invalid_grant", "error_description": VERBOSE_DESCRIPTION, "debug": LEAKED}),
        (401, {"error": "invalid_client\n" + "x" * 500, "trace": LEAKED}),
        (400, f"<html><body><pre>{LEAKED}</pre></body></html>"),
        (503, {"error": "temporarily_unavailable", "error_description": "Try later", "stack": LEAKED}),
        (500, f"<html><pre>{LEAKED}</pre></html>"),
    ],
)
def test_only_the_rfc_6749_error_fields_are_kept_truncated(provider, admin_user, org, status, body):
    """A verbose error body (a stack trace, echoed request data) reaches neither status_message,
    the API's error nor the audit log: only `error` and `error_description`, cut short."""
    client = client_for(admin_user, org)
    conn = make_connection(provider, organization=org)
    connect(provider, client)
    provider.state.fail_4xx = (status, body)
    response = client.post("/api/oauth/connections/graph/refresh")
    assert response.status_code == 502
    conn.refresh_from_db()
    failures = list(AuditLog.objects.filter(action="oauth_connection.refresh_failed"))
    assert len(failures) == 1
    for text in (response.json()["message"], conn.status_message, failures[0].changes["error"]):
        assert "hunter2" not in text and "Traceback" not in text and "<html>" not in text
        assert "\n" not in text
        assert len(text) < 500
    if isinstance(body, dict) and body["error"] == "invalid_grant":
        assert conn.status_message.startswith("invalid_grant: The refresh token was revoked. detail")
        assert conn.status_message.endswith("…")
        assert len(conn.status_message) <= len("invalid_grant: ") + oauth_client.ERROR_DESCRIPTION_MAX_CHARS
    if status == 503:
        assert "temporarily_unavailable: Try later" in conn.status_message


def test_a_provider_error_on_the_callback_url_is_kept_short(provider, admin_user, org):
    client = client_for(admin_user, org)
    make_connection(provider, organization=org)
    answer = provider.authorize(start(client))
    response = callback(
        client, {"state": answer["state"], "error": "access_denied", "error_description": "no " * 1000 + LEAKED}
    )
    assert response.status_code == 400
    message = OAuthConnection.objects.get().status_message
    assert "hunter2" not in message and len(message) < 400
