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


# --- roles by kind of invitee: the rules of role assignment (accounts.models.role_holding_problem) ---


def post_invitation(admin_user, **payload):
    return client_for(admin_user).post("/api/invitations", payload, format="json")


def refused_on_role_ids(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["details"]) == ["role_ids"], body
    return " ".join(body["details"]["role_ids"])


def nothing_written(email: str) -> None:
    assert not Invitation.objects.filter(email=email).exists()
    assert not AuditLog.objects.filter(action="invitation.create").exists()
    assert mail.outbox == []


def test_msp_staff_may_be_invited_with_global_roles(admin_user, django_capture_on_commit_callbacks):
    approvers = RoleFactory(organization=None, name="MSP change approvers")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_invitation(admin_user, email="tech@msp.test", role_ids=[str(approvers.id)])
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["organization_id"], body["is_platform_admin"], body["role_ids"]) == (None, False, [str(approvers.id)])
    entry = AuditLog.objects.get(action="invitation.create")
    assert entry.changes["after"]["role_ids"] == [str(approvers.id)]
    assert len(mail.outbox) == 1


def test_msp_staff_are_not_invited_with_an_organizations_role(admin_user, org):
    approvers = RoleFactory(organization=None, name="MSP change approvers")
    contoso = RoleFactory(organization=org, name="Contoso helpdesk")
    message = refused_on_role_ids(
        post_invitation(admin_user, email="tech@msp.test", role_ids=[str(approvers.id), str(contoso.id)])
    )
    assert "Contoso helpdesk" in message and "platform users may only hold GLOBAL roles" in message
    assert "MSP change approvers" not in message
    nothing_written("tech@msp.test")


def test_a_platform_admin_is_invited_with_no_roles(admin_user):
    approvers = RoleFactory(organization=None, name="MSP change approvers")
    message = refused_on_role_ids(
        post_invitation(admin_user, email="ops@msp.test", is_platform_admin=True, role_ids=[str(approvers.id)])
    )
    assert "Platform admins cannot be given roles" in message
    nothing_written("ops@msp.test")


def test_an_organizations_user_is_invited_with_its_roles_and_global_roles_only(admin_user, org, other_org):
    own = RoleFactory(organization=org, name="Helpdesk")
    everyone = RoleFactory(organization=None, name="Everyone")
    foreign = RoleFactory(organization=other_org, name="Fabrikam helpdesk")
    message = refused_on_role_ids(
        post_invitation(
            admin_user, email="y@contoso.test", organization_id=str(org.id), role_ids=[str(own.id), str(foreign.id)]
        )
    )
    assert "Fabrikam helpdesk" in message and "own organization or GLOBAL roles" in message
    nothing_written("y@contoso.test")
    response = post_invitation(
        admin_user, email="y@contoso.test", organization_id=str(org.id), role_ids=[str(own.id), str(everyone.id)]
    )
    assert response.status_code == 201, response.content
    assert response.json()["role_ids"] == sorted([str(own.id), str(everyone.id)])


def test_unknown_or_malformed_role_ids_are_a_400_on_role_ids(admin_user, org):
    unknown = "6f0e5f0c-0000-4000-8000-000000000000"
    assert unknown in refused_on_role_ids(post_invitation(admin_user, email="t@msp.test", role_ids=[unknown]))
    refused_on_role_ids(post_invitation(admin_user, email="t@msp.test", role_ids=["not-a-uuid"]))
    refused_on_role_ids(post_invitation(admin_user, email="t@msp.test", role_ids="not-a-list"))
    nothing_written("t@msp.test")


def test_a_refused_invitation_leaves_the_pending_one_alone(admin_user, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_invitation(admin_user, email="tech@msp.test")
    assert first.status_code == 201
    refused_on_role_ids(
        post_invitation(admin_user, email="tech@msp.test", role_ids=[str(RoleFactory(organization=org).id)])
    )
    assert Invitation.objects.get(id=first.json()["id"]).status == "pending"
    assert Client().get(link_from_mail()).status_code == 200


def test_accepting_a_staff_invitation_makes_msp_staff_with_the_global_roles(
    admin_user, django_capture_on_commit_callbacks
):
    approvers = RoleFactory(organization=None, name="MSP change approvers")
    with django_capture_on_commit_callbacks(execute=True):
        body = post_invitation(admin_user, email="tech@msp.test", role_ids=[str(approvers.id)]).json()
    done = Client().post(link_from_mail(), {"name": "Tech", "password": PASSWORD, "password_again": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/forms/"
    user = User.objects.get(email="tech@msp.test")
    assert (user.user_type, user.organization_id, user.is_platform_admin) == (UserType.PLATFORM, None, False)
    assert list(user.roles.all()) == [approvers]
    assert user.user_roles.get().assigned_by == admin_user
    entry = AuditLog.objects.get(action="invitation.accept", resource_id=body["id"])
    assert entry.changes["after"]["role_ids"] == [str(approvers.id)]


def test_a_role_that_moved_since_the_invitation_refuses_acceptance_and_writes_nothing(
    admin_user, org, django_capture_on_commit_callbacks
):
    """A GLOBAL role given to an organization afterwards (the role admin can): the staff member could not
    hold it, so the link is refused with the reason, no user is created, and the invitation stays pending."""
    from accounts.models import Role

    approvers = RoleFactory(organization=None, name="MSP change approvers")
    with django_capture_on_commit_callbacks(execute=True):
        body = post_invitation(admin_user, email="tech@msp.test", role_ids=[str(approvers.id)]).json()
    Role.objects.filter(id=approvers.id).update(organization=org)
    page = Client().post(link_from_mail(), {"password": PASSWORD, "password_again": PASSWORD})
    assert page.status_code == 400
    assert "ask for a new invitation" in page.content.decode()
    assert not User.objects.filter(email="tech@msp.test").exists()
    assert Invitation.objects.get(id=body["id"]).status == "pending"


def _platform_sso(settings, provider, *, admin_group=""):
    settings.PLATFORM_SSO_ISSUER = provider.issuer
    settings.PLATFORM_SSO_CLIENT_ID = provider.client_id
    settings.PLATFORM_SSO_CLIENT_SECRET = provider.client_secret
    settings.PLATFORM_SSO_EMAIL_DOMAINS = ["msp.test"]
    settings.PLATFORM_SSO_ADMIN_GROUP = admin_group


def _accept_by_sso(provider) -> None:
    from urllib.parse import urlsplit

    import requests

    from accounts.tests.test_sso import provider_url

    client = Client()
    path = link_from_mail()
    start = client.post(path, {"sso": "1"})
    back = urlsplit(requests.get(provider_url(client, start), allow_redirects=False, timeout=10).headers["Location"])
    assert client.get(back.path + "?" + back.query).status_code == 302


def test_accepting_a_staff_invitation_through_the_platform_sso_grants_the_global_roles(
    admin_user, settings, django_capture_on_commit_callbacks
):
    from accounts.tests.oidc_provider import OIDCProvider

    approvers = RoleFactory(organization=None, name="MSP change approvers")
    with OIDCProvider() as provider:
        _platform_sso(settings, provider, admin_group="bifrost-admins")
        with django_capture_on_commit_callbacks(execute=True):
            body = post_invitation(admin_user, email="tech@msp.test", role_ids=[str(approvers.id)]).json()
        provider.next_user = {"email": "tech@msp.test", "groups": ["staff"]}
        _accept_by_sso(provider)
    user = User.objects.get(email="tech@msp.test")
    assert (user.user_type, user.is_platform_admin) == (UserType.PLATFORM, False)
    assert list(user.roles.all()) == [approvers]
    entry = AuditLog.objects.get(action="invitation.accept", resource_id=body["id"])
    assert entry.changes["after"]["via"] == "sso" and entry.changes["after"]["role_ids"] == [str(approvers.id)]


def test_a_staff_invitee_the_admin_group_makes_a_platform_admin_gets_no_roles(
    admin_user, settings, django_capture_on_commit_callbacks
):
    """The sign-in has happened, so the invitation is spent; the role a platform admin cannot hold is left
    out and named in the audit entry (as a promotion drops roles)."""
    from accounts.tests.oidc_provider import OIDCProvider

    approvers = RoleFactory(organization=None, name="MSP change approvers")
    with OIDCProvider() as provider:
        _platform_sso(settings, provider, admin_group="bifrost-admins")
        with django_capture_on_commit_callbacks(execute=True):
            body = post_invitation(admin_user, email="lead@msp.test", role_ids=[str(approvers.id)]).json()
        provider.next_user = {"email": "lead@msp.test", "groups": ["bifrost-admins"]}
        _accept_by_sso(provider)
    user = User.objects.get(email="lead@msp.test")
    assert user.is_platform_admin and not user.roles.exists()
    invitation = Invitation.objects.get(id=body["id"])
    assert invitation.status == "accepted" and invitation.accepted_user == user
    entry = AuditLog.objects.get(action="invitation.accept", resource_id=body["id"])
    assert entry.changes["after"]["role_ids"] == []
    assert "platform admins cannot be given roles" in entry.changes["after"]["roles_not_given"][0]
