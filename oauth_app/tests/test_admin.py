"""Admin pages for OAuth connections: status, expiry, "refresh now", write-only client secret, audit."""

import pytest
from django.test import Client

from audit.models import AuditLog
from oauth_app.models import ConnectionStatus, FlowType, OAuthConnection, OAuthToken
from oauth_app.tests.factories import OAuthTokenFactory

pytestmark = pytest.mark.django_db

SECRET = "provider-client-secret-123"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_changelist_shows_status_and_expiry_and_never_the_secret(browser):
    token = OAuthTokenFactory(connection__organization=None, connection__name="graph", connection__client_secret=SECRET)
    html = browser.get("/admin/oauth_app/oauthconnection/").content.decode()
    assert "graph" in html and "Completed" in html and "token expires at" in html.lower()
    change = browser.get(f"/admin/oauth_app/oauthconnection/{token.connection.pk}/change/").content.decode()
    assert SECRET not in change and token.access_token not in change


def test_refresh_now_action_gets_a_new_token(browser, provider):
    conn = OAuthConnection.objects.create(
        name="cc",
        flow_type=FlowType.CLIENT_CREDENTIALS,
        client_id="bifrost-client",
        client_secret=SECRET,
        token_url=provider.token_url,
    )
    response = browser.post(
        "/admin/oauth_app/oauthconnection/",
        {"action": "refresh_now", "index": 0, "_selected_action": [str(conn.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Refreshed OAuth connection &#x27;cc&#x27;." in response.content.decode()
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.COMPLETED
    assert OAuthToken.objects.filter(connection=conn).exists()
    assert AuditLog.objects.filter(action="oauth_connection.refresh", resource_id=str(conn.pk)).exists()


def test_admin_edit_is_audited_and_keeps_the_secret(browser, provider):
    conn = OAuthConnection.objects.create(
        name="ac",
        flow_type=FlowType.AUTHORIZATION_CODE,
        client_id="bifrost-client",
        client_secret=SECRET,
        authorization_url=provider.authorize_url,
        token_url=provider.token_url,
        scopes=["a"],
    )
    response = browser.post(
        f"/admin/oauth_app/oauthconnection/{conn.pk}/change/",
        {
            "name": "ac",
            "description": "edited",
            "organization": "",
            "flow_type": "authorization_code",
            "client_id": "bifrost-client",
            "client_secret": "",
            "authorization_url": provider.authorize_url,
            "token_url": provider.token_url,
            "scopes": '["a", "b"]',
            "extra_token_params": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    conn.refresh_from_db()
    assert conn.client_secret == SECRET and conn.scopes == ["a", "b"]
    entry = AuditLog.objects.get(action="oauth_connection.update")
    assert entry.changes["after"]["scopes"] == ["a", "b"] and SECRET not in str(entry.changes)


def _add_form(**overrides):
    data = {
        "name": "graph",
        "description": "",
        "organization": "",
        "flow_type": "client_credentials",
        "client_id": "bifrost-client",
        "client_secret": "",
        "authorization_url": "",
        "token_url": "https://login.example/token",
        "scopes": "[]",
        "extra_token_params": "{}",
    }
    return data | overrides


@pytest.mark.parametrize("flow", ["client_credentials", "authorization_code"])
def test_adding_a_connection_without_a_client_secret_is_a_form_error_not_a_500(browser, flow):
    """Issue 18 item 13: the empty write-only field made the form look up the unsaved row (DoesNotExist)."""
    response = browser.post(
        "/admin/oauth_app/oauthconnection/add/",
        _add_form(flow_type=flow, authorization_url="https://login.example/authorize"),
    )
    assert response.status_code == 200
    assert "Required for a new connection" in response.content.decode()
    assert not OAuthConnection.objects.exists()


def test_a_public_authorization_code_client_is_added_without_a_secret(browser):
    response = browser.post(
        "/admin/oauth_app/oauthconnection/add/",
        _add_form(
            flow_type="authorization_code", authorization_url="https://login.example/authorize", public_client="on"
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert OAuthConnection.objects.get(name="graph").client_secret in (None, "")


def test_a_client_credentials_connection_cannot_be_public(browser):
    response = browser.post("/admin/oauth_app/oauthconnection/add/", _add_form(public_client="on"))
    assert (
        response.status_code == 200 and "Only an authorization code client can be public" in response.content.decode()
    )
    assert not OAuthConnection.objects.exists()


def test_an_authorization_code_connection_needs_an_authorization_url(browser):
    response = browser.post(
        "/admin/oauth_app/oauthconnection/add/", _add_form(flow_type="authorization_code", client_secret=SECRET)
    )
    assert response.status_code == 200 and "Required for the authorization code flow" in response.content.decode()


def test_changing_a_connection_with_the_secret_left_empty_keeps_it(browser):
    conn = OAuthConnection.objects.create(
        name="graph",
        flow_type=FlowType.CLIENT_CREDENTIALS,
        client_id="c",
        client_secret=SECRET,
        token_url="https://login.example/token",
    )
    response = browser.post(
        f"/admin/oauth_app/oauthconnection/{conn.pk}/change/", _add_form(description="changed", client_id="c")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    conn.refresh_from_db()
    assert conn.description == "changed" and conn.client_secret == SECRET
