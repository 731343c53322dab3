"""`/account/` (DESIGN §17): MFA, passkeys, password, sessions and personal tokens from the page."""

import re

import pyotp
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PersonalToken
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_needs_a_sign_in():
    response = Client().get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/account/")


def test_the_page_shows_every_section(member):
    content = page_client(member).get("/account/").content.decode()
    for section in ("Two-step sign-in", "Passkeys", "Password", "Active sessions", "Personal API tokens"):
        assert section in content


def test_setting_up_the_authenticator_app_on_the_page(member):
    client = page_client(member)
    begun = client.post("/account/", {"action": "totp-begin"}).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', begun).group(1)
    wrong = client.post("/account/", {"action": "totp-confirm", "code": "abc"})
    assert wrong.status_code == 400 and secret in wrong.content.decode()
    totp = pyotp.TOTP(secret)
    code = totp.generate_otp(totp.timecode(timezone.now()))
    done = client.post("/account/", {"action": "totp-confirm", "code": code})
    assert done.status_code == 200 and done.content.decode().count("<li><code>") == 10
    assert client.get("/account/").status_code == 200  # the browser session survives its own enrolment
    login = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).json()
    assert login["mfa_required"] is True


def test_creating_and_revoking_a_personal_token_on_the_page(member):
    client = page_client(member)
    created = client.post("/account/", {"action": "token-create", "name": "CI", "days": "30"}).content.decode()
    raw = re.search(r'id="new-token">(bfp_[^<]+)<', created).group(1)
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert raw not in client.get("/account/").content.decode()
    token = PersonalToken.objects.get(user=member)
    assert client.post("/account/", {"action": "token-revoke", "token_id": str(token.id)}).status_code == 302
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_changing_the_password_and_ending_sessions_on_the_page(member):
    tokens = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).json()
    client = page_client(member)
    assert "Signed in" in client.get("/account/").content.decode()
    wrong = client.post("/account/", {"action": "password", "current_password": "x", "new_password": "Another-pass-99"})
    assert wrong.status_code == 302
    assert "This is not your current password." in client.get("/account/").content.decode()
    done = client.post(
        "/account/", {"action": "password", "current_password": DEFAULT_PASSWORD, "new_password": "Another-pass-99"}
    )
    assert done.status_code == 302 and client.get("/account/").status_code == 200
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401
    again = APIClient().post("/auth/login", {"username": member.email, "password": "Another-pass-99"}).json()
    assert client.post("/account/", {"action": "sessions-end"}).status_code == 302
    assert APIClient().post("/auth/refresh", {"refresh_token": again["refresh_token"]}).status_code == 401


def test_an_unknown_action_is_refused(member):
    client = page_client(member)
    assert client.post("/account/", {"action": "__class__"}).status_code == 302


def test_other_browsers_are_signed_out_when_sessions_end_and_this_one_stays(member):
    this, other = page_client(member), page_client(member)
    assert this.post("/account/", {"action": "sessions-end"}).status_code == 302
    assert this.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302  # back to /login/


def test_turning_mfa_on_signs_out_other_browsers(member):
    this, other = page_client(member), page_client(member)
    secret = re.search(
        r'id="totp-secret">([A-Z2-7]+)<', this.post("/account/", {"action": "totp-begin"}).content.decode()
    ).group(1)
    totp = pyotp.TOTP(secret)
    this.post("/account/", {"action": "totp-confirm", "code": totp.generate_otp(totp.timecode(timezone.now()))})
    assert this.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302


def test_a_passkey_added_from_the_browser_keeps_that_browser_signed_in(member):
    from accounts.tests.soft_authenticator import SoftAuthenticator

    this, other = page_client(member), page_client(member)
    host = {"SERVER_NAME": "localhost", "HTTP_HOST": "localhost"}
    options = this.post("/auth/mfa/passkeys/registration-options", **host).json()
    answer = SoftAuthenticator().create(options["options"])
    done = this.post(
        "/auth/mfa/passkeys",
        {"name": "Laptop", "credential": answer, "state": options["state"]},
        content_type="application/json",
        **host,
    )
    assert done.status_code == 201, done.content
    assert len(done.json()["recovery_codes"]) == 10 and "access_token" not in done.json()
    assert this.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
