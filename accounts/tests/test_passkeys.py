"""Passkeys through the API (DESIGN §17, issue 22 item 2) against the fido2 server, answered by a
software authenticator: register several, name, list, remove; sign in with one; a replayed or foreign
answer is refused. The page flow runs in Chromium's virtual authenticator (test_identity_browser.py)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Passkey
from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tests.soft_authenticator import SoftAuthenticator
from conftest import client_for

pytestmark = pytest.mark.django_db

HOST = {"SERVER_NAME": "localhost", "HTTP_HOST": "localhost"}


def register(user, authenticator, name="YubiKey"):
    client = client_for(user)
    begun = client.post("/auth/mfa/passkeys/registration-options", **HOST)
    assert begun.status_code == 200, begun.content
    options = begun.json()
    assert options["options"]["publicKey"]["rp"]["id"] == "localhost"
    answer = authenticator.create(options["options"])
    done = client.post(
        "/auth/mfa/passkeys", {"name": name, "credential": answer, "state": options["state"]}, format="json", **HOST
    )
    assert done.status_code == 201, done.content
    user.refresh_from_db()
    return done.json()


def mfa_token_of(user):
    body = APIClient().post("/auth/login", {"username": user.email, "password": DEFAULT_PASSWORD}).json()
    assert body["mfa_required"] is True
    return body["mfa_token"], body["methods"]


def sign_in_with(authenticator, token, **overrides):
    client = APIClient()
    options = client.post("/auth/mfa/passkeys/authentication-options", {"mfa_token": token}, **HOST).json()
    credential = authenticator.get(options["options"], **overrides)
    return (
        client.post(
            "/auth/mfa",
            {"mfa_token": token, "credential": credential, "state": options["state"]},
            format="json",
            **HOST,
        ),
        options,
        credential,
    )


def test_a_first_passkey_turns_mfa_on_with_recovery_codes_and_a_second_does_not(member):
    first = register(member, SoftAuthenticator(), name="YubiKey")
    assert first["passkey"]["name"] == "YubiKey" and len(first["recovery_codes"]) == 10
    assert "access_token" in first  # the caller's sessions ended with MFA turned on: a new pair
    second = register(member, SoftAuthenticator(), name="Laptop")
    assert second["recovery_codes"] == []
    listed = client_for(member).get("/auth/mfa/passkeys").json()
    assert [p["name"] for p in listed] == ["YubiKey", "Laptop"]


def test_signing_in_with_a_passkey(member):
    authenticator = SoftAuthenticator()
    register(member, authenticator)
    token, methods = mfa_token_of(member)
    assert methods == ["recovery_code", "passkey"]
    done, _, _ = sign_in_with(authenticator, token)
    assert done.status_code == 200, done.content
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {done.json()['access_token']}").status_code == 200
    assert Passkey.objects.get(user=member).last_used_at is not None


def test_a_replayed_answer_and_another_authenticator_are_refused(member):
    authenticator = SoftAuthenticator()
    register(member, authenticator)
    token, _ = mfa_token_of(member)
    done, options, credential = sign_in_with(authenticator, token)
    assert done.status_code == 200
    replay = APIClient().post(
        "/auth/mfa", {"mfa_token": token, "credential": credential, "state": options["state"]}, format="json", **HOST
    )
    assert replay.status_code == 400  # the challenge was spent
    stranger, _, _ = sign_in_with(SoftAuthenticator(), token)
    assert stranger.status_code == 401
    wrong_origin, _, _ = sign_in_with(authenticator, token, origin="http://evil.localhost")
    assert wrong_origin.status_code == 401


def test_removing_passkeys(member):
    first = register(member, SoftAuthenticator())
    client = client_for(member)
    assert client.delete(f"/auth/mfa/passkeys/{first['passkey']['id']}").status_code == 204
    body = APIClient().post("/auth/login", {"username": member.email, "password": DEFAULT_PASSWORD}).json()
    assert "access_token" in body  # the only factor is gone: MFA is off


def test_nobody_removes_another_users_passkey(member, org):
    from accounts.tests.factories import UserFactory

    first = register(member, SoftAuthenticator())
    other = UserFactory(organization=org)
    assert client_for(other).delete(f"/auth/mfa/passkeys/{first['passkey']['id']}").status_code == 404
    assert client_for(other).get("/auth/mfa/passkeys").json() == []
