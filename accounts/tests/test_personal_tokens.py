"""Personal API tokens (DESIGN §17, issue 22 item 3): created once, stored hashed, listed masked,
revocable; a token acts as its user with that user's scope; deactivation disables it."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import personal_token_hash
from accounts.models import PersonalToken
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db


def in_days(days: float) -> str:
    return (timezone.now() + datetime.timedelta(days=days)).isoformat()


def create(user, name="ci", days=30) -> dict:
    response = client_for(user).post("/api/auth/tokens", {"name": name, "expires_at": in_days(days)})
    assert response.status_code == 201, response.content
    return response.json()


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_raw_token_is_returned_once_and_only_its_hash_is_stored(member):
    body = create(member)
    raw = body["token"]
    assert raw.startswith("bfp_") and len(raw) > 40
    stored = PersonalToken.objects.get(id=body["id"])
    assert stored.token_hash == personal_token_hash(raw) and raw not in stored.token_hash
    assert body["masked_token"] == raw[:8] + "…"
    listed = client_for(member).get("/api/auth/tokens").json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0] and raw not in str(listed)
    assert listed[0]["last_used_at"] is None and listed[0]["is_active"] is True
    assert AuditLog.objects.filter(action="personal_token.create", resource_id=str(stored.id)).exists()
    assert raw not in str(list(AuditLog.objects.values_list("changes", flat=True)))


def test_a_token_acts_as_its_user_with_that_users_scope(member, admin_user, org, other_org):
    raw = create(member)["token"]
    me = bearer(raw).get("/auth/me")
    assert me.status_code == 200 and me.json()["email"] == member.email
    assert bearer(raw).get("/api/users").status_code == 403  # an ORG user is not an admin
    admin_raw = create(admin_user)["token"]
    assert bearer(admin_raw).get("/api/users").status_code == 200
    UserFactory(organization=other_org)
    scoped = bearer(admin_raw).get("/api/users", HTTP_X_ORGANIZATION_ID=str(org.id)).json()
    assert {u["organization_id"] for u in scoped["results"]} == {str(org.id)}
    assert PersonalToken.objects.get(token_hash=personal_token_hash(raw)).last_used_at is not None


@pytest.mark.parametrize("days", [0, -1, 367])
def test_the_expiry_is_in_the_future_and_within_a_year(member, days):
    response = client_for(member).post("/api/auth/tokens", {"name": "x", "expires_at": in_days(days)})
    assert response.status_code == 400
    assert "expires_at" in response.json()["details"]


def test_revoked_expired_and_unknown_tokens_are_the_same_401(member):
    body = create(member)
    assert client_for(member).delete(f"/api/auth/tokens/{body['id']}").status_code == 204
    revoked = bearer(body["token"]).get("/auth/me")
    expired_body = create(member, name="old")
    PersonalToken.objects.filter(id=expired_body["id"]).update(expires_at=timezone.now() - datetime.timedelta(1))
    expired = bearer(expired_body["token"]).get("/auth/me")
    unknown = bearer("bfp_" + "A" * 43).get("/auth/me")
    for response in (revoked, expired, unknown):
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired personal token."
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert client_for(member).get("/api/auth/tokens").json()[-1]["is_active"] is False


def test_nobody_sees_or_revokes_another_users_tokens(member, org):
    body = create(member)
    colleague = UserFactory(organization=org)
    assert client_for(colleague).get("/api/auth/tokens").json() == []
    assert client_for(colleague).delete(f"/api/auth/tokens/{body['id']}").status_code == 404
    assert bearer(body["token"]).get("/auth/me").status_code == 200


def test_anonymous_callers_get_401(api_client):
    assert api_client.get("/api/auth/tokens").status_code == 401
    assert api_client.post("/api/auth/tokens", {"name": "x", "expires_at": in_days(1)}).status_code == 401


def test_deactivating_the_user_revokes_the_token_and_reactivation_does_not_bring_it_back(member, admin_user):
    raw = create(member)["token"]
    assert client_for(admin_user).delete(f"/api/users/{member.id}").status_code == 204
    assert bearer(raw).get("/auth/me").status_code == 401
    client_for(admin_user).patch(f"/api/users/{member.id}", {"is_active": True})
    assert bearer(raw).get("/auth/me").status_code == 401


def test_deactivating_the_organization_disables_its_members_tokens(member, admin_user, org):
    raw = create(member)["token"]
    assert client_for(admin_user).delete(f"/api/organizations/{org.id}").status_code in (200, 204)
    assert bearer(raw).get("/auth/me").status_code == 401
    assert PersonalToken.objects.get(token_hash=personal_token_hash(raw)).revoked_at is not None


def test_an_inactive_user_is_refused_even_before_any_revocation(member):
    raw = create(member)["token"]
    type(member).objects.filter(id=member.id).update(is_active=False)
    assert bearer(raw).get("/auth/me").status_code == 401


def test_a_new_password_keeps_personal_tokens(member):
    """Sessions end on a password change; personal tokens are separate credentials (docs/identity.md)."""
    raw = create(member)["token"]
    member.set_password("a-new-Long-passw0rd")
    member.save()
    assert bearer(raw).get("/auth/me").status_code == 200
