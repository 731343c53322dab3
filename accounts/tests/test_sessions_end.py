"""A new password, or deactivating a user or an organization, ends the user's sessions: every access
and refresh token they hold stops working (DESIGN §17 "Session safety", issue 18 item 2)."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from conftest import client_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-Long-passw0rd"


def sign_in(user, password=DEFAULT_PASSWORD) -> dict:
    response = APIClient().post("/auth/login", {"username": user.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def assert_ended(tokens: dict) -> None:
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert me.status_code == 401, me.content
    refresh = APIClient().post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refresh.status_code == 401, refresh.content


def assert_live(tokens: dict) -> None:
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 200


def test_an_admin_setting_a_password_ends_every_session_of_that_user_only(admin_user, member, outsider):
    first, second, bystander = sign_in(member), sign_in(member), sign_in(outsider)
    response = client_for(admin_user).post(f"/api/users/{member.id}/password", {"password": NEW_PASSWORD})
    assert response.status_code == 204, response.content
    assert_ended(first)
    assert_ended(second)
    assert_live(bystander)
    assert not OutstandingToken.objects.filter(user=member, blacklistedtoken__isnull=True).exists()
    assert_live(sign_in(member, NEW_PASSWORD))  # the new password starts a new session


def test_a_password_set_anywhere_else_ends_the_sessions_too(member):
    """The admin's password form and `manage.py changepassword` save through User.set_password."""
    tokens = sign_in(member)
    member.set_password(NEW_PASSWORD)
    member.save()
    assert_ended(tokens)


def test_the_admins_password_form_ends_the_sessions(admin_user, member):
    from django.test import Client

    tokens = sign_in(member)
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        f"/admin/accounts/user/{member.id}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert_ended(tokens)
    assert not OutstandingToken.objects.filter(user=member, blacklistedtoken__isnull=True).exists()


def test_deactivating_a_user_ends_their_sessions_for_good(admin_user, member):
    tokens = sign_in(member)
    assert client_for(admin_user).delete(f"/api/users/{member.id}").status_code == 204
    assert_ended(tokens)
    # reactivation does not bring the old tokens back
    response = client_for(admin_user).patch(f"/api/users/{member.id}", {"is_active": True}, format="json")
    assert response.status_code == 200, response.content
    assert_ended(tokens)
    assert_live(sign_in(member))


def test_deactivating_a_user_by_patch_ends_their_sessions(admin_user, member):
    tokens = sign_in(member)
    response = client_for(admin_user).patch(f"/api/users/{member.id}", {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    member.is_active = True
    member.save(update_fields=["is_active"])
    assert_ended(tokens)


def test_deactivating_an_organization_ends_the_sessions_of_all_its_users(admin_user, org, member, outsider):
    colleague = UserFactory(organization=org)
    tokens = [sign_in(member), sign_in(colleague)]
    bystander = sign_in(outsider)
    assert client_for(admin_user).delete(f"/api/organizations/{org.id}").status_code == 204
    org.is_active = True
    org.save(update_fields=["is_active"])  # even once it is active again
    for pair in tokens:
        assert_ended(pair)
    assert_live(bystander)
    assert BlacklistedToken.objects.filter(token__user__organization=org).count() == 2


def test_deactivating_an_organization_by_patch_ends_the_sessions(admin_user, org, member):
    tokens = sign_in(member)
    response = client_for(admin_user).patch(f"/api/organizations/{org.id}", {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    org.is_active = True
    org.save(update_fields=["is_active"])
    assert_ended(tokens)


def test_a_new_user_and_the_dev_user_command_are_not_revocations(settings):
    """Creating a user sets a first password: nothing to end, tokens issued after it work."""
    user = UserFactory()
    assert user.token_version == 0
    assert_live(sign_in(user))
    settings.ENVIRONMENT = "development"
    call_command("ensure_dev_user")
