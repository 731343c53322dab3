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


def _cross_site_form_posts():
    """What a page on another site can make the developer's browser send: a form post, no credentials."""
    return [
        {"HTTP_ORIGIN": "http://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_ORIGIN": "http://evil.example"},  # a browser without Fetch Metadata
        {"HTTP_SEC_FETCH_SITE": "cross-site"},  # Origin withheld
        {"HTTP_ORIGIN": "null"},  # a sandboxed frame or a data: URL
        {"HTTP_ORIGIN": "http://testserver:9999"},  # same host, another port: another origin
        {"HTTP_ORIGIN": "https://testserver"},  # another scheme
    ]


@pytest.mark.parametrize("headers", _cross_site_form_posts())
def test_bypass_never_applies_to_a_request_sent_on_another_sites_behalf(headers):
    from orgs.models import Organization

    with override_settings(**DEV):
        call_command("ensure_dev_user")
        client = APIClient()
        org = client.post(
            "/api/organizations",
            "name=Pwned&domain=pwned.example",
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
        admin = client.post(
            "/api/users",
            "email=mallory@evil.example&user_type=PLATFORM&is_platform_admin=true&password=a-Long-passw0rd-1",
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
        me = client.get("/auth/me", **headers)
    assert org.status_code == 401, org.content
    assert admin.status_code == 401, admin.content
    assert me.status_code == 401
    assert not Organization.objects.filter(name="Pwned").exists()
    assert not User.objects.filter(email="mallory@evil.example").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts
        {"HTTP_ORIGIN": "http://testserver", "HTTP_SEC_FETCH_SITE": "same-origin"},  # the app's own pages
        {"HTTP_SEC_FETCH_SITE": "none"},  # typed into the address bar
    ],
)
def test_bypass_still_serves_same_origin_and_non_browser_requests(headers):
    with override_settings(**DEV):
        call_command("ensure_dev_user")
        response = APIClient().post(
            "/api/organizations",
            "name=Ours&domain=ours.example",
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
    assert response.status_code == 201, response.content


def test_no_api_path_lets_another_site_use_the_bypass():
    """Every path of the API schema, every method: a cross-site request never acts as the dev admin."""
    import re
    from pathlib import Path

    import yaml
    from django.conf import settings
    from django.test import RequestFactory

    from accounts.authentication import dev_bypass_applies

    schema = yaml.safe_load((Path(settings.BASE_DIR) / "docs" / "api" / "openapi.yaml").read_text())
    paths = [re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000001", path) for path in schema["paths"]]
    assert len(paths) > 50
    factory = RequestFactory()
    with override_settings(**DEV):
        for path in [*paths, "/auth/me"]:
            for method in ("get", "post", "put", "patch", "delete"):
                served = path == "/auth/me" or (path.startswith("/api/") and not path.startswith("/api/endpoints/"))
                assert dev_bypass_applies(getattr(factory, method)(path)) == served, path
                for headers in _cross_site_form_posts():
                    assert not dev_bypass_applies(getattr(factory, method)(path, **headers)), (method, path, headers)
