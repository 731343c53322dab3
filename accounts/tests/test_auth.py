import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import UserType
from accounts.tests.factories import DEFAULT_PASSWORD, PlatformAdminFactory, UserFactory
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db


def login(client, email, password=DEFAULT_PASSWORD, fmt="json"):
    return client.post("/auth/login", {"username": email, "password": password}, format=fmt)


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_login_returns_token_pair_json_and_form(fmt):
    admin = PlatformAdminFactory()
    client = APIClient()
    if fmt == "multipart":
        response = client.post(
            "/auth/login",
            f"username={admin.email}&password={DEFAULT_PASSWORD}",
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = login(client, admin.email)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.ACCESS_TOKEN_MINUTES * 60
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == 200
    assert me.json()["email"] == admin.email
    assert me.json()["is_platform_admin"] is True
    assert AuditLog.objects.filter(action="auth.login", actor=admin).exists()


def test_login_is_case_insensitive_on_email():
    user = UserFactory(email="mixed@example.test")
    assert login(APIClient(), "MIXED@Example.TEST").status_code == 200
    assert user.email == "mixed@example.test"


def test_wrong_password_is_401_and_audited():
    user = UserFactory()
    response = login(APIClient(), user.email, "wrong-password")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    entry = AuditLog.objects.get(action="auth.login_failed")
    assert entry.actor_name == user.email
    assert "wrong-password" not in str(entry.changes)


def test_unknown_user_is_401():
    assert login(APIClient(), "nobody@example.test").status_code == 401


def test_missing_fields_are_400_naming_them():
    response = APIClient().post("/auth/login", {"username": "a@b.test"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["details"]


def test_inactive_user_is_403():
    user = UserFactory(is_active=False)
    assert login(APIClient(), user.email).status_code == 403


def test_user_of_inactive_organization_cannot_log_in_or_refresh():
    user = UserFactory()
    tokens = login(APIClient(), user.email).json()
    user.organization.is_active = False
    user.organization.save()
    assert login(APIClient(), user.email).status_code == 403
    assert APIClient().post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status_code == 403
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failures_are_throttled_with_429(lockout_store):
    user = UserFactory()
    client = APIClient()
    for _ in range(3):
        assert login(client, user.email, "nope").status_code == 401
    response = login(client, user.email)  # even the right password waits out the window
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert "Retry-After" in response


def test_refresh_rotates_and_old_token_is_refused():
    user = UserFactory()
    first = login(APIClient(), user.email).json()
    response = APIClient().post("/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    again = APIClient().post("/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    assert again.status_code == 401
    assert APIClient().post("/auth/refresh", {"refresh_token": second["refresh_token"]}).status_code == 200


def test_refresh_with_garbage_is_401():
    assert APIClient().post("/auth/refresh", {"refresh_token": "not-a-jwt"}).status_code == 401


def test_access_token_cannot_be_used_as_refresh_token():
    user = UserFactory()
    tokens = login(APIClient(), user.email).json()
    assert APIClient().post("/auth/refresh", {"refresh_token": tokens["access_token"]}).status_code == 401


def test_logout_revokes_refresh_and_access_tokens():
    user = UserFactory()
    tokens = login(APIClient(), user.email).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert client.post("/auth/logout", {"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert APIClient().post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status_code == 401
    me = client.get("/auth/me")
    assert me.status_code == 401
    assert "revoked" in me.json()["message"]


def test_access_token_revocation_is_stored_in_the_database_and_survives_a_cache_flush():
    from accounts.models import RevokedAccessToken
    from bifrost_site.testing.services import cleanup_cache_keys

    user = UserFactory()
    tokens = login(APIClient(), user.email).json()
    other = login(APIClient(), user.email).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert client.post("/auth/logout", {"refresh_token": tokens["refresh_token"]}).status_code == 204
    revoked = RevokedAccessToken.objects.get()
    assert revoked.jti == AccessToken(tokens["access_token"])["jti"]
    assert revoked.expires_at.timestamp() == AccessToken(tokens["access_token"])["exp"]
    cleanup_cache_keys()  # this run's keys only: FLUSHDB would wipe any other Bifrost on this Redis
    assert client.get("/auth/me").status_code == 401
    # only that token: the same user's other session still works
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other['access_token']}")
    assert other_client.get("/auth/me").status_code == 200


def test_revoked_access_token_is_refused_by_the_websocket_authentication():
    from rest_framework.exceptions import AuthenticationFailed

    from accounts.authentication import BifrostJWTAuthentication  # what bifrost_site.ws_auth uses

    user = UserFactory()
    tokens = login(APIClient(), user.email).json()
    auth = BifrostJWTAuthentication()
    assert auth.get_user(auth.get_validated_token(tokens["access_token"].encode())) == user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    client.post("/auth/logout", {"refresh_token": tokens["refresh_token"]})
    with pytest.raises(AuthenticationFailed, match="revoked"):
        auth.get_user(auth.get_validated_token(tokens["access_token"].encode()))


def test_prune_forgets_only_revocations_of_expired_tokens():
    import datetime

    from django.utils import timezone

    from accounts.models import RevokedAccessToken
    from accounts.services import revoked_access_tokens_prune

    now = timezone.now()
    RevokedAccessToken.objects.create(jti="expired", expires_at=now - datetime.timedelta(seconds=1))
    RevokedAccessToken.objects.create(jti="live", expires_at=now + datetime.timedelta(minutes=5))
    assert revoked_access_tokens_prune() == 1
    assert list(RevokedAccessToken.objects.values_list("jti", flat=True)) == ["live"]


def test_token_for_unknown_or_malformed_user_id_is_401():
    for user_id in ("00000000-0000-0000-0000-000000000001", "not-a-uuid"):
        token = AccessToken()
        token["user_id"] = user_id
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.get("/auth/me")
        assert response.status_code == 401, user_id


def test_me_shape_for_org_user_with_roles():
    from accounts.tests.factories import UserRoleFactory

    link = UserRoleFactory(role__name="Helpdesk")
    response = client_for(link.user).get("/auth/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(link.user.id),
        "email": link.user.email,
        "name": link.user.name,
        "user_type": UserType.ORG,
        "is_platform_admin": False,
        "organization_id": str(link.user.organization_id),
        "roles": ["Helpdesk"],
    }


def test_me_requires_authentication_outside_development():
    response = APIClient().get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_forged_token_is_401():
    import jwt

    user = UserFactory()
    forged = jwt.encode(
        {"user_id": str(user.id), "token_type": "access", "exp": 9999999999}, "wrong-key", algorithm="HS256"
    )
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401


def test_token_without_audience_is_refused():
    import jwt

    user = UserFactory()
    token = jwt.encode(
        {"user_id": str(user.id), "token_type": "access", "exp": 9999999999, "jti": "x"},
        settings.SECRET_KEY,
        algorithm="HS256",
    )
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_register_is_forbidden_outside_development():
    response = APIClient().post("/auth/register", {"email": "new@example.test", "password": "a-Long-passw0rd"})
    assert response.status_code == 403


@override_settings(ENVIRONMENT="development")
def test_register_in_development_creates_user():
    response = APIClient().post(
        "/auth/register", {"email": "new@example.test", "password": "a-Long-passw0rd", "name": "New"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["user_type"] == UserType.PLATFORM
    assert login(APIClient(), "new@example.test", "a-Long-passw0rd").status_code == 200
    duplicate = APIClient().post("/auth/register", {"email": "new@example.test", "password": "a-Long-passw0rd"})
    assert duplicate.status_code == 409
    weak = APIClient().post("/auth/register", {"email": "weak@example.test", "password": "123"})
    assert weak.status_code == 400
    assert "password" in weak.json()["details"]


def test_passwords_are_hashed_with_argon2_by_default():
    from bifrost_site import settings as base_settings

    assert base_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=base_settings.PASSWORD_HASHERS):
        user = UserFactory()
        user.set_password("another-password")
        assert user.password.startswith("argon2")


def test_a_verified_token_is_still_refused_once_it_expires():
    import datetime
    import time

    user = UserFactory()
    token = AccessToken.for_user(user)
    # Long enough that a busy machine still makes the first two requests in time; then wait until it expired.
    token.set_exp(lifetime=datetime.timedelta(seconds=6))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/auth/me").status_code == 200  # verified once, then remembered
    assert client.get("/auth/me").status_code == 200
    time.sleep(max(0.0, token["exp"] - time.time()) + 1.1)
    assert client.get("/auth/me").status_code == 401


def test_a_token_with_a_changed_signature_is_verified_again_and_refused():
    user = UserFactory()
    good = str(AccessToken.for_user(user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")
    assert client.get("/auth/me").status_code == 200
    header, payload, signature = good.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert client.get("/auth/me").status_code == 401


def _behind_one_proxy():
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1})


def test_the_client_address_comes_from_the_proxy_only_when_num_proxies_is_set():
    from django.test import RequestFactory

    from bifrost_site.middleware import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.2"  # no proxy configured: the header is the client's own claim
    with _behind_one_proxy():
        assert client_ip(request) == "203.0.113.7"  # what our proxy saw; the spoofed left entry is ignored
        assert client_ip(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_behind_a_proxy_the_lock_out_and_the_audit_count_each_client(lockout_store):
    user = UserFactory()
    with _behind_one_proxy():
        mallory = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
        alice = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.4")
        for _ in range(3):
            assert login(mallory, user.email, "nope").status_code == 401
        assert login(mallory, user.email).status_code == 429
        assert login(alice, user.email).status_code == 200  # same proxy, another client: not locked out
    entry = AuditLog.objects.filter(action="auth.login").latest("created_at")
    assert entry.ip_address == "198.51.100.4"


@override_settings(ENVIRONMENT="development")
def test_register_joins_only_the_organization_that_owns_the_emails_domain():
    from orgs.tests.factories import OrganizationFactory

    contoso = OrganizationFactory(domain="contoso.example")
    fabrikam = OrganizationFactory(domain="fabrikam.example")
    inactive = OrganizationFactory(domain="gone.example", is_active=False)

    def register(email, organization_id):
        body = {"email": email, "password": "a-Long-passw0rd", "organization_id": str(organization_id)}
        return APIClient().post("/auth/register", body, format="json")

    # Another organization's id (the attack), an unknown id and an inactive organization: one 400.
    for email, organization_id in [
        ("mallory@contoso.example", fabrikam.id),
        ("mallory@evil.example", contoso.id),
        ("mallory@contoso.example", "00000000-0000-0000-0000-000000000001"),
        ("mallory@gone.example", inactive.id),
    ]:
        response = register(email, organization_id)
        assert response.status_code == 400, (email, response.content)
        assert "organization_id" in response.json()["details"]
    assert not get_user_model().objects.filter(email__startswith="mallory@").exists()

    response = register("Alice@Contoso.example", contoso.id)
    assert response.status_code == 201, response.content
    assert response.json()["organization_id"] == str(contoso.id)
    assert response.json()["user_type"] == UserType.ORG
