"""manage.py rotate_encryption_keys: every encrypted column, newest key, re-runnable (DESIGN §8)."""

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from oauth_app.models import OAuthConnection, OAuthState, OAuthToken
from oauth_app.tests.factories import OAuthTokenFactory
from secrets_app.models import Secret
from secrets_app.rotation import encrypted_columns
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db

PLAINTEXTS = ["secret-plain-one", "secret-plain-two", "client-secret-value-xyz", "access-plain", "refresh-plain"]


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ciphertexts() -> dict:
    return {
        "secrets": dict(raw("SELECT id, value FROM secrets_app_secret")),
        "client_secrets": dict(raw("SELECT id, client_secret FROM oauth_app_oauthconnection")),
        "access": dict(raw("SELECT id, access_token FROM oauth_app_oauthtoken")),
        "refresh": dict(raw("SELECT id, refresh_token FROM oauth_app_oauthtoken")),
        "verifiers": dict(raw("SELECT id, code_verifier FROM oauth_app_oauthstate")),
    }


def run(**kwargs) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_keys", stdout=out, stderr=err, **kwargs)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def data(org):
    from django.utils import timezone

    SecretFactory(organization=org, name="one", value="secret-plain-one")
    SecretFactory(organization=None, name="two", value="secret-plain-two")
    token = OAuthTokenFactory(access_token="access-plain", refresh_token="refresh-plain")
    OAuthState.objects.create(
        state_hash="h" * 64,
        connection=token.connection,
        code_verifier="verifier-plain",
        redirect_uri="http://testserver/oauth/callback",
        expires_at=timezone.now(),
    )
    return token


def test_every_encrypted_field_is_discovered():
    found = {f"{model._meta.label}.{f.name}" for model, fields in encrypted_columns() for f in fields}
    assert {
        "secrets_app.Secret.value",
        "oauth_app.OAuthConnection.client_secret",
        "oauth_app.OAuthToken.access_token",
        "oauth_app.OAuthToken.refresh_token",
        "oauth_app.OAuthState.code_verifier",
    } <= found


def test_add_key_rotate_drop_old_key_everything_still_reads(data, settings):
    old_key = settings.ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = ciphertexts()

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    output = run(batch_size=2)
    assert "oauth_app.OAuthToken.access_token: re-encrypted 1" in output
    assert "secrets_app.Secret.value: re-encrypted 2" in output
    assert "Total: re-encrypted 6" in output  # 2 secrets, 1 client secret, access, refresh, 1 verifier

    after = ciphertexts()
    for column, rows in before.items():
        for pk, stored in rows.items():
            assert after[column][pk] != stored, f"{column} {pk} was not re-encrypted"
            Fernet(new_key.encode()).decrypt(after[column][pk].encode())  # encrypted with the newest key
    dump = json.dumps({c: list(rows.values()) for c, rows in after.items()})
    for plain in [*PLAINTEXTS, "verifier-plain"]:
        assert plain not in dump

    settings.ENCRYPTION_KEYS = [new_key]  # the old key is dropped
    assert Secret.objects.get(name="one").value == "secret-plain-one"
    assert Secret.objects.get(name="two").value == "secret-plain-two"
    token = OAuthToken.objects.select_related("connection").get()
    assert token.access_token == "access-plain" and token.refresh_token == "refresh-plain"
    assert token.connection.client_secret == "client-secret-value-xyz"
    assert OAuthState.objects.get().code_verifier == "verifier-plain"

    # Re-running changes nothing: everything is already on the newest key.
    again = run()
    assert "Total: re-encrypted 0, already current 6, undecryptable 0" in again
    assert ciphertexts() == after


def test_undecryptable_rows_are_named_and_the_rest_still_rotates(data, settings):
    stranger = Fernet(Fernet.generate_key())
    orphan = SecretFactory(organization=None, name="orphan")
    raw(
        "UPDATE secrets_app_secret SET value = %s WHERE id = %s RETURNING id",
        [stranger.encrypt(b"x").decode(), orphan.id],
    )
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, *settings.ENCRYPTION_KEYS]

    output = run()
    assert f"secrets_app.Secret id={orphan.id} name='orphan'" in output
    assert "undecryptable 1" in output
    assert "Total: re-encrypted 6" in output
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        run(fail_on_undecryptable=True)


def test_dry_run_writes_nothing(data, settings):
    before = ciphertexts()
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.ENCRYPTION_KEYS]
    assert "would re-encrypt 6" in run(dry_run=True)
    assert ciphertexts() == before


def test_null_values_are_left_alone(settings):
    OAuthConnection.objects.create(
        name="public",
        flow_type="authorization_code",
        client_id="c",
        client_secret=None,
        token_url="https://example.test/token",
    )
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.ENCRYPTION_KEYS]
    assert "oauth_app.OAuthConnection.client_secret: re-encrypted 0" in run()
    assert raw("SELECT client_secret FROM oauth_app_oauthconnection") == [(None,)]
