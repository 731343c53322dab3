"""OIDC single sign-on (DESIGN §17, issue 22 item 1) against a real provider on loopback
(accounts.tests.oidc_provider): discovery, JWKS, RS256 ID tokens, nonce, PKCE S256."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import OrganizationSSO, User, UserRole, UserType
from accounts.tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory
from accounts.tests.oidc_provider import OIDCProvider
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    with OIDCProvider() as running:
        yield running


@pytest.fixture
def org_sso(org, provider):
    role = RoleFactory(organization=org, name="Helpdesk")
    sso = OrganizationSSO.objects.create(
        organization=org,
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        email_domains=["contoso.test"],
    )
    sso.default_roles.set([role])
    return sso


def provider_url(client: Client, start) -> str:
    """/login/ sends the browser to /login/sso/, a page that moves on to the provider (meta refresh)."""
    import html
    import re

    assert start["Location"].startswith("/login/sso/?email="), start["Location"]
    page = client.get(start["Location"])
    assert page.status_code == 200, page.content
    return html.unescape(re.search(r'id="sso-continue" href="([^"]+)"', page.content.decode()).group(1))


def sso_sign_in(client: Client, email: str, provider: OIDCProvider):
    """The browser's trip: /login/ with the email → the provider → back to the callback."""
    start = client.post("/login/", {"username": email, "sso": "1"})
    if start.status_code != 302:
        return start
    authorize = provider_url(client, start)
    assert authorize.startswith(provider.issuer + "/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0] and query["state"][0]
    back = requests.get(authorize, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    return client.get(callback.path + "?" + callback.query)


def test_first_sign_in_creates_the_user_in_the_organization_with_the_default_roles(org, org_sso, provider):
    provider.next_user = {"email": "New.Hire@contoso.test", "name": "New Hire", "email_verified": True}
    client = Client()
    done = sso_sign_in(client, "new.hire@contoso.test", provider)
    assert done.status_code == 302 and done["Location"] == "/forms/"
    user = User.objects.get(email="new.hire@contoso.test")
    assert user.organization == org and user.user_type == UserType.ORG and user.name == "New Hire"
    assert not user.has_usable_password()
    assert list(UserRole.objects.filter(user=user).values_list("role__name", flat=True)) == ["Helpdesk"]
    assert client.get("/forms/").status_code == 200
    assert AuditLog.objects.filter(action="user.create", resource_id=str(user.id)).exists()
    again = sso_sign_in(Client(), "new.hire@contoso.test", provider)
    assert again.status_code == 302 and User.objects.filter(email="new.hire@contoso.test").count() == 1


def test_an_unknown_domain_is_refused_with_a_clear_page(org_sso):
    response = Client().post("/login/", {"username": "someone@unknown.test", "sso": "1"})
    assert response.status_code == 400
    assert "No single sign-on is set up for unknown.test." in response.content.decode()


def test_the_provider_may_not_assert_an_email_of_another_domain(org_sso, provider):
    provider.next_user = {"email": "boss@fabrikam.test"}
    response = sso_sign_in(Client(), "someone@contoso.test", provider)
    assert response.status_code == 403
    assert "fabrikam.test is not a domain of Contoso" in response.content.decode()
    assert not User.objects.filter(email="boss@fabrikam.test").exists()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"sign_with_other_key": True}, "signature is wrong"),
        ({"aud": "someone-else"}, "wrong audience"),
        ({"exp_offset": -3600}, "has expired"),
        ({"iss": "http://127.0.0.1:1"}, "wrong issuer"),
    ],
)
def test_a_bad_id_token_is_refused(org_sso, provider, tamper, message):
    provider.next_user = {"email": "eve@contoso.test"}
    provider.tamper = tamper
    response = sso_sign_in(Client(), "eve@contoso.test", provider)
    assert response.status_code == 403
    assert message in response.content.decode()
    assert not User.objects.filter(email="eve@contoso.test").exists()


def test_a_replayed_nonce_is_refused(org_sso, provider):
    provider.next_user = {"email": "first@contoso.test"}
    assert sso_sign_in(Client(), "first@contoso.test", provider).status_code == 302
    provider.tamper = {"nonce": provider.issued[-1]["nonce"]}  # an ID token minted for the earlier sign-in
    provider.next_user = {"email": "second@contoso.test"}
    response = sso_sign_in(Client(), "second@contoso.test", provider)
    assert response.status_code == 403 and "wrong nonce" in response.content.decode()


def test_a_callback_is_used_once(org_sso, provider):
    provider.next_user = {"email": "once@contoso.test"}
    client = Client()
    start = client.post("/login/", {"username": "once@contoso.test", "sso": "1"})
    back = urlsplit(requests.get(provider_url(client, start), allow_redirects=False, timeout=10).headers["Location"])
    assert client.get(back.path + "?" + back.query).status_code == 302
    replay = client.get(back.path + "?" + back.query)
    assert replay.status_code == 403 and "expired or was already used" in replay.content.decode()


def test_an_existing_user_of_another_organization_is_refused(org_sso, provider, other_org):
    UserFactory(organization=other_org, email="moved@contoso.test")
    provider.next_user = {"email": "moved@contoso.test"}
    response = sso_sign_in(Client(), "moved@contoso.test", provider)
    assert response.status_code == 403 and "belongs to another organization" in response.content.decode()


def test_enforce_refuses_password_sign_in_on_the_api_and_the_page(org, org_sso, member):
    org_sso.enforce = True
    org_sso.save()
    api = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD})
    assert api.status_code == 403 and "single sign-on" in api.json()["message"]
    outside_domain = UserFactory(organization=org, email="contractor@elsewhere.test")
    api = APIClient().post("/auth/login", {"username": outside_domain.email, "password": DEFAULT_PASSWORD})
    assert api.status_code == 403
    page = Client().post("/login/", {"username": outside_domain.email, "password": DEFAULT_PASSWORD})
    assert page.status_code == 200 and "single sign-on" in page.content.decode()


def test_enforce_sends_a_password_attempt_at_an_sso_domain_to_the_provider(org_sso, provider):
    org_sso.enforce = True
    org_sso.save()
    client = Client()
    response = client.post("/login/", {"username": "member@contoso.test", "password": "anything"})
    assert response.status_code == 302 and provider_url(client, response).startswith(provider.issuer)


def test_without_enforce_a_password_still_works(org_sso, member):
    assert APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).status_code == 200


def test_the_platform_provider_makes_msp_staff_and_admins_from_the_group_claim(settings, provider):
    settings.PLATFORM_SSO_ISSUER = provider.issuer
    settings.PLATFORM_SSO_CLIENT_ID = provider.client_id
    settings.PLATFORM_SSO_CLIENT_SECRET = provider.client_secret
    settings.PLATFORM_SSO_EMAIL_DOMAINS = ["msp.test"]
    settings.PLATFORM_SSO_ADMIN_GROUP = "bifrost-admins"
    provider.next_user = {"email": "tech@msp.test", "groups": ["staff"]}
    assert sso_sign_in(Client(), "tech@msp.test", provider)["Location"] == "/forms/"
    tech = User.objects.get(email="tech@msp.test")
    assert tech.user_type == UserType.PLATFORM and not tech.is_platform_admin
    provider.next_user = {"email": "tech@msp.test", "groups": ["staff", "bifrost-admins"]}
    assert sso_sign_in(Client(), "tech@msp.test", provider)["Location"] == "/admin/"
    tech.refresh_from_db()
    assert tech.is_platform_admin


# --- the email first on /login/ ---


def test_the_email_step_sends_an_enforced_domain_straight_to_its_provider(org_sso, provider):
    org_sso.enforce = True
    org_sso.save()
    client = Client()
    response = client.post("/login/", {"username": "Someone@Contoso.test", "next": "/executions/"})
    assert response.status_code == 302
    assert response["Location"] == "/login/sso/?email=someone%40contoso.test&next=%2Fexecutions%2F"
    authorize = parse_qs(urlsplit(provider_url(client, response)).query)
    assert authorize["login_hint"] == ["someone@contoso.test"] and authorize["code_challenge_method"] == ["S256"]


def test_the_email_step_offers_sso_and_the_password_when_not_enforced(org_sso, provider, member):
    client = Client()
    step_two = client.post("/login/", {"username": member.email})
    content = step_two.content.decode()
    assert step_two.status_code == 200 and 'name="password"' in content and 'id="sso-button"' in content
    to_provider = client.post("/login/", {"username": member.email, "password": "", "sso": "1"})
    assert provider_url(client, to_provider).startswith(provider.issuer + "/authorize?")
    assert sign_in_page(Client(), member.email)["Location"] == "/forms/"  # the password still works


def sign_in_page(client, email):
    return client.post("/login/", {"username": email, "password": DEFAULT_PASSWORD})


def test_the_email_step_of_a_domain_without_sso_asks_for_the_password(org_sso):
    response = Client().post("/login/", {"username": "nobody@unknown.test"})
    content = response.content.decode()
    assert response.status_code == 200 and 'name="password"' in content and 'id="sso-button"' not in content
    refused = Client().get("/login/sso/?email=nobody@unknown.test")
    assert refused.status_code == 400 and "No single sign-on is set up for unknown.test." in refused.content.decode()


def test_the_email_step_sends_platform_staff_to_the_platform_provider(settings, provider):
    settings.PLATFORM_SSO_ISSUER = provider.issuer
    settings.PLATFORM_SSO_CLIENT_ID = provider.client_id
    settings.PLATFORM_SSO_CLIENT_SECRET = provider.client_secret
    settings.PLATFORM_SSO_EMAIL_DOMAINS = ["msp.test"]
    step_two = Client().post("/login/", {"username": "tech@msp.test"})
    assert 'id="sso-button"' in step_two.content.decode()
    settings.PLATFORM_SSO_ENFORCE = True
    client = Client()
    response = client.post("/login/", {"username": "tech@msp.test"})
    assert response.status_code == 302 and provider_url(client, response).startswith(provider.issuer)


# --- /api/organizations/{id}/sso ---


def sso_payload(provider, **extra):
    return {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "email_domains": ["Contoso.test"],
        **extra,
    }


def test_managing_an_organizations_sso_through_the_api(admin_user, org, provider):
    from conftest import client_for

    role = RoleFactory(organization=org)
    client = client_for(admin_user)
    url = f"/api/organizations/{org.id}/sso"
    assert client.get(url).status_code == 404
    created = client.put(url, sso_payload(provider, default_role_ids=[str(role.id)], enforce=True), format="json")
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["email_domains"] == ["contoso.test"] and body["default_role_ids"] == [str(role.id)]
    assert body["has_client_secret"] is True and "client_secret" not in body
    stored = OrganizationSSO.objects.get(organization=org)
    assert stored.client_secret == provider.client_secret
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM accounts_organizationsso WHERE id = %s", [stored.id])
        assert provider.client_secret not in cursor.fetchone()[0]
    changed = client.put(url, {"enforce": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enforce"] is False
    assert OrganizationSSO.objects.get(organization=org).client_secret == provider.client_secret  # kept
    entries = AuditLog.objects.filter(resource_id=str(org.id), action__startswith="organization.sso")
    assert {e.action for e in entries} == {"organization.sso_create", "organization.sso_update"}
    assert provider.client_secret not in str(list(entries.values_list("changes", flat=True)))
    assert client.delete(url).status_code == 204
    assert AuditLog.objects.filter(action="organization.sso_delete").exists()


def test_sso_settings_are_validated(admin_user, org, other_org, provider):
    from conftest import client_for

    client = client_for(admin_user)
    bad_issuer = client.put(
        f"/api/organizations/{org.id}/sso", sso_payload(provider, issuer="http://idp.example.com"), format="json"
    )
    assert bad_issuer.status_code == 400 and "issuer" in bad_issuer.json()["details"]
    assert client.put(f"/api/organizations/{org.id}/sso", sso_payload(provider), format="json").status_code == 200
    clash = client.put(f"/api/organizations/{other_org.id}/sso", sso_payload(provider), format="json")
    assert clash.status_code == 400 and "already signs in through Contoso" in str(clash.json())
    foreign_role = RoleFactory(organization=other_org)
    wrong_role = client.put(
        f"/api/organizations/{org.id}/sso", {"default_role_ids": [str(foreign_role.id)]}, format="json"
    )
    assert wrong_role.status_code == 400


def test_sso_management_is_for_platform_admins_in_scope(admin_user, member, org, other_org, provider):
    from conftest import client_for

    url = f"/api/organizations/{org.id}/sso"
    assert APIClient().get(url).status_code == 401
    assert client_for(member).get(url).status_code == 403
    scoped_elsewhere = client_for(admin_user, organization=other_org)
    assert scoped_elsewhere.put(url, sso_payload(provider), format="json").status_code == 404


def test_the_admin_keeps_the_secret_when_left_empty_and_audits_changes(admin_user, org):
    from accounts.tests.factories import OrganizationSSOFactory

    sso = OrganizationSSOFactory(organization=org, email_domains=["contoso.test"])
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/accounts/organizationsso/{sso.id}/change/")
    assert page.status_code == 200 and "factory-client-secret" not in page.content.decode()
    response = client.post(
        f"/admin/accounts/organizationsso/{sso.id}/change/",
        {
            "organization": str(org.id),
            "issuer": "https://login.example.test/tenant",
            "client_id": sso.client_id,
            "client_secret": "",
            "email_domains": "contoso.test\nContoso.example",
            "enforce": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    sso.refresh_from_db()
    assert sso.client_secret == "factory-client-secret" and sso.enforce
    assert sso.email_domains == ["contoso.test", "contoso.example"]
    assert AuditLog.objects.filter(action="organization.sso_update", actor=admin_user).exists()
