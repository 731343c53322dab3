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
