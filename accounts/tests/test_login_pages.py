import pytest
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def sign_in(client, email, next_url=None, password=DEFAULT_PASSWORD):
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data)


def test_login_page_renders_with_an_email_field():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b'type="email"' in response.content and b"csrfmiddlewaretoken" in response.content


def test_platform_admin_goes_to_admin_or_the_page_asked_for(admin_user):
    response = sign_in(Client(), admin_user.email)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    response = sign_in(Client(), admin_user.email, next_url="/executions/")
    assert response["Location"] == "/executions/"
    assert AuditLog.objects.filter(action="auth.login", actor=admin_user).exists()


def test_org_user_goes_to_forms_never_to_admin(member):
    assert sign_in(Client(), member.email)["Location"] == "/forms/"
    assert sign_in(Client(), member.email.upper(), next_url="/admin/")["Location"] == "/forms/"
    assert sign_in(Client(), member.email, next_url="/executions/")["Location"] == "/executions/"


def test_next_to_another_host_is_ignored(admin_user):
    assert sign_in(Client(), admin_user.email, next_url="https://evil.example/")["Location"] == "/admin/"


def test_bad_password_is_refused_and_audited(member):
    response = sign_in(Client(), member.email, password="wrong")
    assert response.status_code == 200
    assert b"Incorrect email or password." in response.content
    assert AuditLog.objects.filter(action="auth.login_failed", actor_name=member.email).exists()


def test_users_of_an_inactive_organization_cannot_sign_in(member, org):
    org.is_active = False
    org.save()
    response = sign_in(Client(), member.email)
    assert response.status_code == 200
    assert b"organization is inactive" in response.content


def test_repeated_failures_are_throttled(member, lockout_store):
    lockout_store.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        sign_in(client, member.email, password="wrong")
    response = sign_in(client, member.email)  # even the right password, until the window passes
    assert response.status_code == 200
    assert b"Too many failed sign-in attempts" in response.content


def test_logout_needs_post(member):
    client = Client()
    client.force_login(member)
    response = client.get("/logout/")
    assert response.status_code == 200 and b"Sign out" in response.content
    assert client.get("/executions/").status_code == 200  # still signed in
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/executions/").status_code == 302
