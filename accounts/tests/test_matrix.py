"""Tenancy/permission matrix for /api/users and /api/roles (bifrost_site.testing.matrix)."""

import uuid

import pytest

from accounts.models import UserType
from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from bifrost_site.testing.matrix import ACTIVITY, OWNED, Extra, ResourceMatrix
from forms_app.tests.factories import FormFactory, FormRoleFactory

pytestmark = pytest.mark.django_db


class TestUserMatrix(ResourceMatrix):
    list_url = "/api/users"
    detail_url = "/api/users/{lookup}"
    scope_mode = ACTIVITY
    max_list_queries = 4
    extras = (
        Extra("/api/users/{lookup}/roles"),
        Extra(
            "/api/users/{lookup}/password", methods=("POST",), payload=lambda m, obj: {"password": "Tr0ub4dor&3-long"}
        ),
    )

    def make(self, organization):
        if organization is None:
            return UserFactory(organization=None, user_type=UserType.PLATFORM)
        return UserFactory(organization=organization)

    def create_payload(self, organization):
        return {"email": f"new-{uuid.uuid4().hex[:8]}@example.test", "name": "New Person"}

    def update_payload(self, obj):
        return {"name": "Renamed Person"}


def _member_of(matrix, role):
    return {"user_id": UserRoleFactory(role=role).user_id}


def _form_of(matrix, role):
    return {"form_id": FormRoleFactory(role=role, form=FormFactory(organization=role.organization)).form_id}


class TestRoleMatrix(ResourceMatrix):
    list_url = "/api/roles"
    detail_url = "/api/roles/{lookup}"
    scope_mode = OWNED
    max_list_queries = 4
    extras = (
        Extra(
            "/api/roles/{lookup}/users",
            methods=("GET", "POST"),
            payload=lambda m, role: {"user_ids": [str(UserFactory(organization=role.organization).id)]},
        ),
        Extra("/api/roles/{lookup}/users/{user_id}", methods=("DELETE",), url_kwargs=_member_of),
        Extra(
            "/api/roles/{lookup}/forms",
            methods=("GET", "POST"),
            payload=lambda m, role: {"form_ids": [str(FormFactory(organization=role.organization).id)]},
        ),
        Extra("/api/roles/{lookup}/forms/{form_id}", methods=("DELETE",), url_kwargs=_form_of),
    )

    def make(self, organization):
        return RoleFactory(organization=organization)

    def create_payload(self, organization):
        return {"name": f"Role {uuid.uuid4().hex[:8]}", "description": "helpdesk"}

    def update_payload(self, obj):
        return {"name": f"Renamed {uuid.uuid4().hex[:6]}"}


# --- identity (DESIGN §17, issue 22) ---

from accounts.models import Invitation  # noqa: E402
from accounts.tests.factories import OrganizationSSOFactory  # noqa: E402


class TestInvitationMatrix(ResourceMatrix):
    list_url = "/api/invitations"
    detail_url = "/api/invitations/{lookup}"
    scope_mode = ACTIVITY
    detail_methods = ("GET", "DELETE")
    max_list_queries = 5

    def make(self, organization):
        import datetime

        from django.utils import timezone

        return Invitation.objects.create(
            email=f"invitee-{uuid.uuid4().hex[:8]}@example.test",
            organization=organization,
            token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
            expires_at=timezone.now() + datetime.timedelta(days=7),
        )

    def create_payload(self, organization):
        return {"email": f"invited-{uuid.uuid4().hex[:8]}@example.test"}


class TestOrganizationSSOMatrix(ResourceMatrix):
    """`/api/organizations/{id}/sso`: one row per organization, reached through the organization."""

    detail_url = "/api/organizations/{lookup}/sso"
    lookup = "organization_id"
    scope_mode = ACTIVITY
    global_rows = False
    detail_methods = ("GET", "PUT", "DELETE")

    def make(self, organization):
        return OrganizationSSOFactory(organization=organization)

    def update_payload(self, obj):
        return {"enforce": True}


# Self-service identity endpoints act on the caller's own rows only, so the resource matrix (admins vs
# ORG users, scopes) does not apply; the same questions are asked here: anonymous callers get 401 on
# every method, and another user's row is 404 (tests of each flow: test_mfa, test_passkeys,
# test_personal_tokens).
SELF_SERVICE = [
    ("GET", "/api/auth/tokens"),
    ("POST", "/api/auth/tokens"),
    ("DELETE", "/api/auth/tokens/{token_id}"),
    ("GET", "/auth/mfa"),
    ("POST", "/auth/mfa"),
    ("POST", "/auth/mfa/totp"),
    ("DELETE", "/auth/mfa/totp"),
    ("POST", "/auth/mfa/totp/confirm"),
    ("POST", "/auth/mfa/recovery-codes"),
    ("GET", "/auth/mfa/passkeys"),
    ("POST", "/auth/mfa/passkeys"),
    ("POST", "/auth/mfa/passkeys/registration-options"),
    ("POST", "/auth/mfa/passkeys/authentication-options"),
    ("DELETE", "/auth/mfa/passkeys/{passkey_id}"),
    ("POST", "/auth/password"),
]


def _own_rows(user):
    import datetime

    from django.utils import timezone

    from accounts.models import Passkey, PersonalToken

    token = PersonalToken.objects.create(
        user=user,
        name="t",
        prefix="bfp_abcd",
        token_hash=uuid.uuid4().hex * 2,
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    passkey = Passkey.objects.create(user=user, name="k", credential_id=uuid.uuid4().hex, credential_data="x")
    return {"token_id": token.id, "passkey_id": passkey.id}


@pytest.mark.parametrize(("method", "url"), SELF_SERVICE, ids=[f"{m} {u}" for m, u in SELF_SERVICE])
def test_self_service_identity_endpoints_refuse_anonymous_callers(method, url, member):
    from rest_framework.test import APIClient

    response = getattr(APIClient(), method.lower())(url.format(**_own_rows(member)), {}, format="json")
    if url == "/auth/mfa" and method == "POST":  # the sign-in's second step: its mfa_token is the credential
        assert response.status_code == 400 and "mfa_token" in response.json()["details"], response.content
    else:
        assert response.status_code == 401, response.content


@pytest.mark.parametrize("url", ["/api/auth/tokens/{token_id}", "/auth/mfa/passkeys/{passkey_id}"])
def test_another_users_identity_rows_are_not_found(url, member, org):
    from conftest import client_for

    rows = _own_rows(member)
    colleague = UserFactory(organization=org)
    assert client_for(colleague).delete(url.format(**rows)).status_code == 404
