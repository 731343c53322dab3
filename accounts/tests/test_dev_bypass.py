import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

DEV = {
    "ENVIRONMENT": "development",
    "DEV_AUTH_BYPASS": True,
    "DEV_USER_EMAIL": "admin@localhost",
    "DEV_USER_PASSWORD": "admin",
}


def test_ensure_dev_user_is_idempotent():
    with override_settings(**DEV):
        call_command("ensure_dev_user")
        call_command("ensure_dev_user")
    user = User.objects.get(email="admin@localhost")
    assert user.is_platform_admin and user.is_superuser and user.is_staff
    assert user.check_password("admin")
    assert User.objects.filter(email="admin@localhost").count() == 1


def test_ensure_dev_user_refuses_outside_development():
    with pytest.raises(CommandError):
        call_command("ensure_dev_user")


def test_bypass_acts_as_dev_admin_in_development():
    with override_settings(**DEV):
        call_command("ensure_dev_user")
        response = APIClient().get("/auth/me")
    assert response.status_code == 200
    assert response.json()["email"] == "admin@localhost"


def test_bypass_never_applies_to_webhook_endpoints():
    from django.test import RequestFactory

    from accounts.authentication import dev_bypass_applies

    with override_settings(**DEV):
        assert dev_bypass_applies(RequestFactory().get("/api/organizations"))
        assert not dev_bypass_applies(RequestFactory().get("/api/endpoints/hello"))
        assert not dev_bypass_applies(RequestFactory().get("/api/organizations", HTTP_AUTHORIZATION="Bearer x"))


@pytest.mark.parametrize("environment", ["testing", "production"])
def test_bypass_is_impossible_outside_development(environment):
    """Even if the flag were forced on at runtime, the per-request check refuses it."""
    from django.test import RequestFactory

    from accounts.authentication import dev_bypass_applies

    with override_settings(ENVIRONMENT=environment, DEV_AUTH_BYPASS=True, DEV_USER_EMAIL="admin@localhost"):
        User.objects.create_superuser("admin@localhost", "admin")
        assert not dev_bypass_applies(RequestFactory().get("/auth/me"))
        assert APIClient().get("/auth/me").status_code == 401
