"""A platform admin resets a user's second factors in the admin (docs/identity.md): the authenticator app,
recovery codes and passkeys go, the user's sessions end (DESIGN §17), the reset is audited, and a user who
must use MFA enrols again at the next sign-in. Nobody else can do it, and nobody resets their own."""

import datetime

import pyotp
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import mfa
from accounts.models import Passkey, RecoveryCode, TotpDevice, UserType
from accounts.services import personal_token_create, tokens_issue
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def enrol_everything(user):
    enrolment = mfa.totp_begin(user=user)
    totp = pyotp.TOTP(enrolment.secret)
    mfa.totp_confirm(user=user, code=totp.generate_otp(totp.timecode(timezone.now())), ip=None)
    Passkey.objects.create(user=user, name="Work laptop", credential_id=f"cred-{user.id}", credential_data="data")
    user.refresh_from_db()
    return user


def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_button_on_the_users_page_asks_then_resets_audits_and_ends_sessions(admin_user, member, org):
    enrol_everything(member)
    pair = tokens_issue(user=member)
    personal = personal_token_create(user=member, name="ci", expires_at=timezone.now() + datetime.timedelta(days=9))
    client = admin_client(admin_user)

    page = client.get(f"/admin/accounts/user/{member.id}/change/").content.decode()
    assert f'href="/admin/accounts/user/{member.id}/mfa-reset/" id="mfa-reset-link"' in page
    assert "authenticator app, passkey “Work laptop”; 10 recovery codes left" in page

    confirm = client.get(f"/admin/accounts/user/{member.id}/mfa-reset/")
    assert confirm.status_code == 200 and "member@contoso.test" in confirm.content.decode()
    assert TotpDevice.objects.filter(user=member).exists()  # a GET changes nothing

    done = client.post(f"/admin/accounts/user/{member.id}/mfa-reset/", {"confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == f"/admin/accounts/user/{member.id}/change/"
    assert not TotpDevice.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(user=member).exists()
    assert not Passkey.objects.filter(user=member).exists()
    assert mfa.user_methods(member) == []

    entry = AuditLog.objects.get(action="mfa.reset", resource_id=str(member.id))
    assert entry.actor_id == admin_user.id and entry.organization_id == org.id
    assert entry.changes["before"] == {"totp": True, "passkeys": ["Work laptop"], "recovery_codes_left": 10}
    assert AuditLog.objects.filter(action="auth.sessions_end", changes__reason="mfa.reset").exists()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
    assert api.get("/auth/me").status_code == 401  # the access token issued before the reset
    assert APIClient().post("/auth/refresh", {"refresh_token": pair.refresh_token}).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {personal.raw_token}")
    assert api.get("/auth/me").status_code == 200  # personal tokens stay, as for a new password
    # without MFA required, the password alone signs in again
    login = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200 and "access_token" in login.json()


def test_a_user_who_must_use_mfa_enrols_again_at_the_next_sign_in(admin_user, member, org):
    org.require_mfa = True
    org.save()
    enrol_everything(member)
    admin_client(admin_user).post(f"/admin/accounts/user/{member.id}/mfa-reset/", {"confirm": "yes"})
    login = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).json()
    assert login["mfa_setup_required"] is True and "access_token" not in login
    page = Client()
    page.post("/login/", {"username": member.email})
    assert page.post("/login/", {"username": member.email, "password": DEFAULT_PASSWORD})["Location"] == (
        "/login/mfa/setup/"
    )


def test_the_list_action_confirms_then_resets_the_selected_users(admin_user, member, outsider):
    enrol_everything(member)
    enrol_everything(outsider)
    client = admin_client(admin_user)
    selected = {"action": "reset_second_factors", "_selected_action": [str(member.id), str(outsider.id)]}
    confirm = client.post("/admin/accounts/user/", {**selected, "index": "0"})
    assert confirm.status_code == 200
    assert 'id="mfa-reset-form"' in confirm.content.decode() and TotpDevice.objects.count() == 2
    done = client.post("/admin/accounts/user/", {**selected, "confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == "/admin/accounts/user/"
    assert not TotpDevice.objects.exists() and not Passkey.objects.exists()
    assert AuditLog.objects.filter(action="mfa.reset").count() == 2


def test_nobody_but_a_platform_admin_resets_and_nobody_resets_their_own(admin_user, member):
    from rest_framework.exceptions import PermissionDenied, ValidationError

    enrol_everything(member)
    staff = UserFactory(user_type=UserType.PLATFORM, organization=None, email="tech@msp.test")
    for someone in (staff, member):  # MSP staff who are not admins, and an organization's user
        client = Client()
        client.force_login(someone)
        response = client.post(f"/admin/accounts/user/{member.id}/mfa-reset/", {"confirm": "yes"})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
        with pytest.raises(PermissionDenied):
            mfa.mfa_reset(user=member, by=someone)
    assert TotpDevice.objects.filter(user=member).exists()
    assert not AuditLog.objects.filter(action="mfa.reset").exists()

    enrol_everything(admin_user)
    client = admin_client(admin_user)
    assert "mfa-reset-link" not in client.get(f"/admin/accounts/user/{admin_user.id}/change/").content.decode()
    assert client.post(f"/admin/accounts/user/{admin_user.id}/mfa-reset/", {"confirm": "yes"}).status_code == 403
    with pytest.raises(ValidationError):
        mfa.mfa_reset(user=admin_user, by=admin_user)
    assert TotpDevice.objects.filter(user=admin_user).exists()
    missing = client.get("/admin/accounts/user/00000000-0000-0000-0000-000000000000/mfa-reset/")
    assert missing.status_code == 404
