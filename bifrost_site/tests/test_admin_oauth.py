"""OAuth connections in the admin (issue 21 item 7): Connect / Reconnect runs the authorization-code flow
against a local provider and comes back to the connection's admin page; Refresh now; status and expiry."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from audit.models import AuditLog
from oauth_app.models import ConnectionStatus, FlowType, OAuthConnection
from oauth_app.tests.conftest import provider  # noqa: F401  (the local OAuth provider fixture)

pytestmark = pytest.mark.django_db

SECRET = "provider-client-secret-123"
ADMIN = "/admin/oauth_app/oauthconnection/"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _connection(provider, flow=FlowType.AUTHORIZATION_CODE):  # noqa: F811
    return OAuthConnection.objects.create(
        name="graph",
        flow_type=flow,
        client_id="bifrost-client",
        client_secret=SECRET,
        authorization_url=provider.authorize_url,
        token_url=provider.token_url,
        scopes=["User.Read"],
    )


def test_connect_runs_the_authorization_code_flow_and_returns_to_the_admin(browser, provider):  # noqa: F811
    connection = _connection(provider)
    page = browser.get(f"{ADMIN}{connection.pk}/change/").content.decode()
    assert f'action="{ADMIN}{connection.pk}/connect/"' in page and ">Connect</button>" in page
    assert "Refresh now</button>" not in page  # nothing to refresh before the first token
    assert browser.get(f"{ADMIN}{connection.pk}/connect/").status_code == 405

    response = browser.post(f"{ADMIN}{connection.pk}/connect/")
    assert response.status_code == 200 and "follow_link.js" in response.content.decode()
    location = response.context["provider_url"]
    assert location.startswith(provider.authorize_url)
    answer = provider.authorize(location)  # the provider's consent, as a browser follows it
    back = browser.get("/oauth/callback", {"code": answer["code"], "state": answer["state"]}, follow=True)
    assert back.redirect_chain[0][0] == f"{ADMIN}{connection.pk}/change/"
    html = back.content.decode()
    assert "is connected and ready to use" in html
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.COMPLETED
    assert ">Reconnect</button>" in html and "Refresh now</button>" in html
    assert AuditLog.objects.filter(action="oauth_connection.connect", resource_id=str(connection.pk)).exists()


def test_a_refused_consent_returns_to_the_admin_with_the_reason(browser, provider):  # noqa: F811
    connection = _connection(provider)
    location = browser.post(f"{ADMIN}{connection.pk}/connect/").context["provider_url"]
    state = dict(part.split("=", 1) for part in urlsplit(location).query.split("&"))["state"]
    back = browser.get(
        "/oauth/callback", {"error": "access_denied", "error_description": "no", "state": state}, follow=True
    )
    assert back.redirect_chain[0][0] == f"{ADMIN}{connection.pk}/change/"
    assert "Not connected: The provider refused the authorization" in back.content.decode()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.FAILED


def test_the_callback_page_without_the_admin_stays_the_stand_alone_page(client, provider):  # noqa: F811
    response = client.get("/oauth/callback", {"state": "unknown", "code": "x"})
    assert response.status_code == 400 and "Unknown state" in response.content.decode()


def test_refresh_now_on_the_page_of_a_client_credentials_connection(browser, provider):  # noqa: F811
    connection = _connection(provider, flow=FlowType.CLIENT_CREDENTIALS)
    page = browser.get(f"{ADMIN}{connection.pk}/change/").content.decode()
    assert "Connect</button>" not in page and "Refresh now</button>" in page
    response = browser.post(f"{ADMIN}{connection.pk}/refresh/", follow=True)
    assert "Refreshed OAuth connection &#x27;graph&#x27;." in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.COMPLETED
    listing = browser.get(ADMIN).content.decode()
    assert "Completed" in listing and "token expires at" in listing.lower()
