"""MFA (DESIGN §17, issue 22 item 2): TOTP against codes computed here, single-use recovery codes,
the mfa_token sign-in step, the shared lock-out, compulsory enrolment and sessions ended on enrolment."""

import re

import pyotp
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import mfa
from accounts.models import RecoveryCode, TotpDevice
from accounts.tests.factories import DEFAULT_PASSWORD, PlatformAdminFactory
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db


def login(user, password=DEFAULT_PASSWORD):
    return APIClient().post("/auth/login", {"username": user.email, "password": password}, format="json")


def code_at(secret: str, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + steps_ahead)


def enrol(user) -> tuple[str, list[str]]:
    client = client_for(user)
    begun = client.post("/auth/mfa/totp").json()
    confirmed = client.post("/auth/mfa/totp/confirm", {"code": code_at(begun["secret"])})
    assert confirmed.status_code == 200, confirmed.content
    user.refresh_from_db()  # enrolment ended the sessions: the token version moved on
    return begun["secret"], confirmed.json()["recovery_codes"]


def test_enrolment_gives_a_secret_uri_and_qr_then_a_code_turns_it_on_with_ten_recovery_codes(member):
    client = client_for(member)
    begun = client.post("/auth/mfa/totp")
    assert begun.status_code == 200, begun.content
    body = begun.json()
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    assert body["otpauth_uri"].startswith("otpauth://totp/Bifrost:") and body["secret"] in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    assert login(member).json().get("access_token")  # not on before the code is confirmed
    wrong = client.post("/auth/mfa/totp/confirm", {"code": "000000" if code_at(body["secret"]) != "000000" else "1"})
    assert wrong.status_code == 400
    confirmed = client.post("/auth/mfa/totp/confirm", {"code": code_at(body["secret"])})
    assert confirmed.status_code == 200, confirmed.content
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=member).values_list("code_hash", flat=True))
    assert not set(codes) & stored and {mfa.recovery_code_hash(c) for c in codes} == stored
    assert TotpDevice.objects.get(user=member).secret == body["secret"]  # decrypted on read
    member.refresh_from_db()
    assert client_for(member).get("/auth/mfa").json()["methods"] == ["totp", "recovery_code"]


def test_the_totp_secret_is_encrypted_at_rest(member):
    secret, _ = enrol(member)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE user_id = %s", [member.id])
        (raw,) = cursor.fetchone()
    assert secret not in raw


def test_turning_mfa_on_ends_the_users_other_sessions_and_hands_the_caller_a_new_pair(member):
    other = login(member).json()
    client = client_for(member)
    begun = client.post("/auth/mfa/totp").json()
    confirmed = client.post("/auth/mfa/totp/confirm", {"code": code_at(begun["secret"])}).json()
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {other['access_token']}").status_code == 401
    assert APIClient().post("/auth/refresh", {"refresh_token": other["refresh_token"]}).status_code == 401
    fresh = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {confirmed['access_token']}")
    assert fresh.status_code == 200
    assert AuditLog.objects.filter(action="auth.sessions_end", changes__reason="mfa.enable").exists()


def test_a_user_with_mfa_gets_an_mfa_token_and_no_tokens_then_a_code_completes(member):
    secret, _ = enrol(member)
    answer = login(member)
    assert answer.status_code == 200
    body = answer.json()
    assert body["mfa_required"] is True and body["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in body and "refresh_token" not in body
    done = APIClient().post("/auth/mfa", {"mfa_token": body["mfa_token"], "code": code_at(secret, 1)})
    assert done.status_code == 200, done.content
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {done.json()['access_token']}").status_code == 200


def test_a_totp_code_is_accepted_once(member):
    secret, _ = enrol(member)  # the confirmation used the current step
    token = login(member).json()["mfa_token"]
    replay = APIClient().post("/auth/mfa", {"mfa_token": token, "code": code_at(secret)})
    assert replay.status_code == 401


def test_recovery_codes_work_once_each(member):
    _, codes = enrol(member)
    first = APIClient().post("/auth/mfa", {"mfa_token": login(member).json()["mfa_token"], "code": codes[0].lower()})
    assert first.status_code == 200, first.content
    again = APIClient().post("/auth/mfa", {"mfa_token": login(member).json()["mfa_token"], "code": codes[0]})
    assert again.status_code == 401
    assert client_for(member).get("/auth/mfa").json()["recovery_codes_left"] == 9


def test_a_new_set_of_recovery_codes_voids_the_old_one(member):
    _, old = enrol(member)
    new = client_for(member).post("/auth/mfa/recovery-codes").json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    token = login(member).json()["mfa_token"]
    assert APIClient().post("/auth/mfa", {"mfa_token": token, "code": old[1]}).status_code == 401
    assert APIClient().post("/auth/mfa", {"mfa_token": token, "code": new[1]}).status_code == 200


def test_wrong_codes_count_toward_the_lock_out_and_the_right_password_does_not_reset_it(member, lockout_store):
    secret, _ = enrol(member)
    limit = lockout_store.LOGIN_FAILURE_LIMIT
    for _ in range(limit):
        token = login(member).json()["mfa_token"]  # the password is right every time
        assert APIClient().post("/auth/mfa", {"mfa_token": token, "code": "999999"}).status_code in (401,)
    assert login(member).status_code == 429
    assert AuditLog.objects.filter(action="auth.login_failed", changes__reason="invalid_mfa_code").count() == limit


def test_an_mfa_token_is_refused_after_the_sessions_end_and_when_forged(member):
    enrol(member)
    token = login(member).json()["mfa_token"]
    from accounts.services import user_sessions_end

    user_sessions_end(user_ids=[member.id], reason="test")
    assert APIClient().post("/auth/mfa", {"mfa_token": token, "code": "123456"}).status_code == 401
    assert APIClient().post("/auth/mfa", {"mfa_token": token[:-2] + "xx", "code": "123456"}).status_code == 401


def test_a_verify_mfa_token_cannot_enrol_another_factor(member):
    enrol(member)
    token = login(member).json()["mfa_token"]
    assert APIClient().post("/auth/mfa/totp", {"mfa_token": token}).status_code == 401


def test_platform_admins_must_enrol_when_the_setting_says_so(settings):
    settings.REQUIRE_MFA_FOR_PLATFORM_ADMINS = True
    admin = PlatformAdminFactory()
    body = login(admin).json()
    assert body == {"mfa_setup_required": True, "mfa_token": body["mfa_token"]}
    anonymous = APIClient()
    begun = anonymous.post("/auth/mfa/totp", {"mfa_token": body["mfa_token"]})
    assert begun.status_code == 200, begun.content
    done = anonymous.post(
        "/auth/mfa/totp/confirm", {"mfa_token": body["mfa_token"], "code": code_at(begun.json()["secret"])}
    )
    assert done.status_code == 200, done.content
    assert len(done.json()["recovery_codes"]) == 10
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {done.json()['access_token']}")
    assert me.status_code == 200
    assert login(admin).json()["mfa_required"] is True
    # required: the only factor cannot be removed
    admin.refresh_from_db()
    assert client_for(admin).delete("/auth/mfa/totp").status_code == 400


def test_without_the_setting_platform_admins_sign_in_with_a_password(settings, admin_user):
    settings.REQUIRE_MFA_FOR_PLATFORM_ADMINS = False
    assert "access_token" in login(admin_user).json()


def test_removing_the_authenticator_turns_mfa_off(member):
    enrol(member)
    assert client_for(member).delete("/auth/mfa/totp").status_code == 204
    assert "access_token" in login(member).json()
    assert not RecoveryCode.objects.filter(user=member).exists()


def test_changing_ones_password(member, lockout_store):
    other = login(member).json()
    client = client_for(member)
    wrong = client.post("/auth/password", {"current_password": "nope", "new_password": "A-much-better-pass1"})
    assert wrong.status_code == 400 and "current_password" in wrong.json()["details"]
    weak = client.post("/auth/password", {"current_password": DEFAULT_PASSWORD, "new_password": "123"})
    assert weak.status_code == 400 and "new_password" in weak.json()["details"]
    done = client.post("/auth/password", {"current_password": DEFAULT_PASSWORD, "new_password": "A-much-better-pass1"})
    assert done.status_code == 200, done.content
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {other['access_token']}").status_code == 401
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {done.json()['access_token']}").status_code == 200
    assert login(member, "A-much-better-pass1").status_code == 200


def test_an_organization_that_requires_mfa_makes_its_members_enrol(member, org, other_org):
    from accounts.tests.factories import UserFactory

    org.require_mfa = True
    org.save()
    assert login(member).json()["mfa_setup_required"] is True
    outsider = UserFactory(organization=other_org)
    assert "access_token" in login(outsider).json()
