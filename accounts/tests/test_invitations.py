"""Invitations (DESIGN §17, issue 22 item 4): an emailed single-use link valid 7 days creates the user
with the invited roles (password or SSO); pending invitations are listed and revocable."""

import datetime
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Invitation, User, UserType
from accounts.tests.factories import RoleFactory
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "A-fine-new-passw0rd"


def invite(admin_user, org, **extra):
    role = RoleFactory(organization=org, name="Helpdesk")
    payload = {"email": "New.Person@contoso.test", "organization_id": str(org.id), "role_ids": [str(role.id)]}
    response = client_for(admin_user).post("/api/invitations", {**payload, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json(), role


def link_from_mail() -> str:
    assert len(mail.outbox) == 1
    return re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)


def test_an_invitation_emails_a_link_that_creates_the_user_with_the_roles(
    admin_user, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body, role = invite(admin_user, org)
    assert body["email"] == "new.person@contoso.test" and body["status"] == "pending"
    assert body["role_ids"] == [str(role.id)]
    message = mail.outbox[0]
    assert message.to == ["new.person@contoso.test"] and "7 days" in message.body
    path = link_from_mail()
    raw = path.split("/")[2]
    assert raw not in Invitation.objects.get(id=body["id"]).token_hash
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and "new.person@contoso.test" in page.content.decode()
    done = client.post(path, {"name": "New Person", "password": PASSWORD, "password_again": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/forms/"
    user = User.objects.get(email="new.person@contoso.test")
    assert user.organization == org and user.user_type == UserType.ORG and user.check_password(PASSWORD)
    assert list(user.roles.values_list("name", flat=True)) == ["Helpdesk"]
    assert client.get(path).status_code == 404  # single use
    assert APIClient().post("/auth/login", {"username": user.email, "password": PASSWORD}).status_code == 200
    assert AuditLog.objects.filter(action="invitation.accept", resource_id=body["id"]).exists()


def test_pending_invitations_are_listed_and_revocable(admin_user, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        body, _ = invite(admin_user, org)
    client = client_for(admin_user)
    assert [i["id"] for i in client.get("/api/invitations").json()["results"]] == [body["id"]]
    assert client.delete(f"/api/invitations/{body['id']}").status_code == 204
    assert client.get("/api/invitations").json()["results"] == []
    assert client.get("/api/invitations?status=all").json()["results"][0]["status"] == "revoked"
    assert Client().get(link_from_mail()).status_code == 404


def test_an_expired_link_is_refused(admin_user, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        body, _ = invite(admin_user, org)
    Invitation.objects.filter(id=body["id"]).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = Client().post(link_from_mail(), {"password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 404 and not User.objects.filter(email="new.person@contoso.test").exists()


def test_a_weak_password_is_refused_and_the_link_still_works(admin_user, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(admin_user, org)
    path = link_from_mail()
    weak = Client().post(path, {"password": "123", "password_again": "123"})
    assert weak.status_code == 400
    assert Client().post(path, {"password": PASSWORD, "password_again": PASSWORD}).status_code == 302


def test_inviting_a_platform_admin(admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(
            "/api/invitations", {"email": "ops@msp.test", "is_platform_admin": True}, format="json"
        )
    assert response.status_code == 201, response.content
    Client().post(link_from_mail(), {"password": PASSWORD, "password_again": PASSWORD})
    user = User.objects.get(email="ops@msp.test")
    assert user.is_platform_admin and user.user_type == UserType.PLATFORM


def test_invitation_rules(admin_user, org, other_org, member):
    client = client_for(admin_user)
    existing = client.post("/api/invitations", {"email": member.email, "organization_id": str(org.id)}, format="json")
    assert existing.status_code == 409
    admin_in_org = client.post(
        "/api/invitations", {"email": "x@contoso.test", "organization_id": str(org.id), "is_platform_admin": True}
    )
    assert admin_in_org.status_code == 400
    foreign = RoleFactory(organization=other_org)
    wrong_role = client.post(
        "/api/invitations",
        {"email": "y@contoso.test", "organization_id": str(org.id), "role_ids": [str(foreign.id)]},
        format="json",
    )
    assert wrong_role.status_code == 400


def test_a_real_smtp_server_receives_the_invitation(admin_user, org, settings, django_capture_on_commit_callbacks):
    """EMAIL_URL pointing at a local SMTP server (aiosmtpd): the message really goes out over SMTP."""
    import environ
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from bifrost_site.testing.ports import free_port

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = environ.Env.email_url_config(f"smtp://127.0.0.1:{port}")
        for key, value in config.items():
            setattr(settings, key, value)
        with django_capture_on_commit_callbacks(execute=True):
            invite(admin_user, org)
    finally:
        controller.stop()
    assert len(received) == 1
    assert received[0]["To"] == "new.person@contoso.test"
    assert "/invitations/" in received[0].get_payload()


def test_accepting_through_the_organizations_sso_grants_the_invited_roles(
    admin_user, org, django_capture_on_commit_callbacks
):
    from urllib.parse import urlsplit

    import requests

    from accounts.models import OrganizationSSO
    from accounts.tests.oidc_provider import OIDCProvider
    from accounts.tests.test_sso import provider_url

    with OIDCProvider() as provider:
        OrganizationSSO.objects.create(
            organization=org,
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            email_domains=["contoso.test"],
        )
        with django_capture_on_commit_callbacks(execute=True):
            invite(admin_user, org)
        provider.next_user = {"email": "new.person@contoso.test"}
        client = Client()
        path = link_from_mail()
        assert "Sign in with your organization" in client.get(path).content.decode()
        start = client.post(path, {"sso": "1"})
        back = urlsplit(
            requests.get(provider_url(client, start), allow_redirects=False, timeout=10).headers["Location"]
        )
        assert client.get(back.path + "?" + back.query).status_code == 302
    user = User.objects.get(email="new.person@contoso.test")
    assert list(user.roles.values_list("name", flat=True)) == ["Helpdesk"]
    assert Invitation.objects.get(email=user.email).status == "accepted"
