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


# --- the second factor on the page (DESIGN §17) ---


def _enrol(user):
    import pyotp
    from django.utils import timezone

    from accounts import mfa

    enrolment = mfa.totp_begin(user=user)
    totp = pyotp.TOTP(enrolment.secret)
    codes = mfa.totp_confirm(user=user, code=totp.generate_otp(totp.timecode(timezone.now())), ip=None)
    return totp, codes


def test_a_user_with_mfa_is_asked_for_the_code_after_the_password(member):
    from django.utils import timezone

    totp, _ = _enrol(member)
    client = Client()
    response = sign_in(client, member.email, next_url="/executions/")
    assert response.status_code == 302 and response["Location"] == "/login/mfa/"
    assert client.get("/executions/").status_code == 302  # not signed in yet
    page = client.get("/login/mfa/")
    assert b"authenticator app" in page.content
    wrong = client.post("/login/mfa/", {"code": "12345x"})
    assert wrong.status_code == 400 and b"That code is not right." in wrong.content
    right = client.post("/login/mfa/", {"code": totp.generate_otp(totp.timecode(timezone.now()) + 1)})
    assert right.status_code == 302 and right["Location"] == "/executions/"
    assert client.get("/executions/").status_code == 200


def test_a_recovery_code_signs_in_on_the_page(member):
    _, codes = _enrol(member)
    client = Client()
    sign_in(client, member.email)
    assert client.post("/login/mfa/", {"code": codes[3]})["Location"] == "/forms/"


def test_the_code_step_needs_the_password_step_first(member):
    _enrol(member)
    assert Client().get("/login/mfa/")["Location"] == "/login/"
    assert Client().post("/login/mfa/", {"code": "123456"})["Location"] == "/login/"


def test_a_platform_admin_who_must_enrol_sets_up_totp_before_signing_in(settings):
    import re

    import pyotp
    from django.utils import timezone

    from accounts.tests.factories import PlatformAdminFactory

    settings.REQUIRE_MFA_FOR_PLATFORM_ADMINS = True
    admin = PlatformAdminFactory()
    client = Client()
    assert sign_in(client, admin.email)["Location"] == "/login/mfa/setup/"
    page = client.get("/login/mfa/setup/")
    assert b"<svg" in page.content
    secret = re.search(rb'id="totp-secret">([A-Z2-7]+)<', page.content).group(1).decode()
    totp = pyotp.TOTP(secret)
    done = client.post("/login/mfa/setup/", {"code": totp.generate_otp(totp.timecode(timezone.now()))})
    assert done.status_code == 200 and done.content.count(b"<li><code>") == 10
    assert b'href="/admin/"' in done.content
    assert client.get("/admin/").status_code == 200


# --- the email first (DESIGN §17) ---


def _step_two_html(response, email: str) -> str:
    """The password step's HTML with what differs between two renderings (CSRF token, the email) blanked."""
    import re

    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)
    return html.replace(email, "EMAIL")


def test_the_login_page_asks_for_the_email_first():
    page = Client().get("/login/?next=/executions/")
    assert page.status_code == 200
    content = page.content.decode()
    assert 'data-step="email"' in content and 'type="email"' in content
    assert 'name="password"' not in content and 'id="sso-button"' not in content
    assert 'name="next" value="/executions/"' in content


def test_the_password_step_is_the_same_for_known_and_unknown_emails(member):
    known = Client().post("/login/", {"username": "MEMBER@contoso.test", "next": "/executions/"})
    unknown = Client().post("/login/", {"username": "nobody@contoso.test", "next": "/executions/"})
    assert known.status_code == unknown.status_code == 200
    assert _step_two_html(known, "member@contoso.test") == _step_two_html(unknown, "nobody@contoso.test")
    content = known.content.decode()
    assert 'data-step="password"' in content and 'name="password"' in content
    assert 'name="username" value="member@contoso.test"' in content  # the email is fixed, lower-cased
    assert 'id="sso-button"' not in content  # no single sign-on for contoso.test here
    assert 'href="/login/?next=%2Fexecutions%2F" id="login-restart"' in content  # "Not you?" keeps `next`
    assert 'name="next" value="/executions/"' in content


def test_the_password_step_signs_in_and_keeps_next(member):
    client = Client()
    client.post("/login/", {"username": member.email, "next": "/executions/"})
    response = client.post("/login/", {"username": member.email, "password": DEFAULT_PASSWORD, "next": "/executions/"})
    assert response.status_code == 302 and response["Location"] == "/executions/"


def test_a_wrong_password_shows_the_password_step_again(member):
    response = sign_in(Client(), member.email, password="wrong")
    content = response.content.decode()
    assert 'data-step="password"' in content and "Incorrect email or password." in content
    assert 'name="username" value="member@contoso.test"' in content


def test_a_bad_email_stays_on_the_email_step():
    for data in ({"username": "not-an-email"}, {}, {"sso": "1"}):
        response = Client().post("/login/", data)
        assert response.status_code == 400, data
        content = response.content.decode()
        assert 'data-step="email"' in content and 'role="alert"' in content and 'name="password"' not in content
    direct = Client().post("/login/", {"username": "not-an-email", "password": "x"})  # both at once
    assert direct.status_code == 200 and 'data-step="email"' in direct.content.decode()


def test_the_login_form_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "someone@contoso.test"}).status_code == 403


def test_the_email_step_then_the_second_factor(member):
    from django.utils import timezone

    totp, _ = _enrol(member)
    client = Client()
    step_two = client.post("/login/", {"username": member.email})
    assert 'data-step="password"' in step_two.content.decode()
    assert sign_in(client, member.email)["Location"] == "/login/mfa/"
    done = client.post("/login/mfa/", {"code": totp.generate_otp(totp.timecode(timezone.now()) + 1)})
    assert done.status_code == 302 and done["Location"] == "/forms/"


def test_the_lock_out_holds_on_the_password_step(member, lockout_store):
    lockout_store.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        sign_in(client, member.email, password="wrong")
    client.post("/login/", {"username": member.email})  # the email step neither counts nor clears
    response = sign_in(client, member.email)
    assert b"Too many failed sign-in attempts" in response.content
    assert client.get("/executions/").status_code == 302


@pytest.mark.parametrize(
    "data",
    [
        {"username": "a\x00b@contoso.test"},
        {"username": "x" * 5000 + "@contoso.test"},
        {"username": ["a@contoso.test", "b@contoso.test"]},
        {"username": "a@contoso.test", "password": "x" * 10000},
        {"username": "@", "sso": "1"},
        {"username": "a@", "sso": "1"},
    ],
)
def test_odd_input_on_the_login_page_is_a_clear_answer_never_a_500(data):
    response = Client().post("/login/", data)
    assert response.status_code in (200, 400), response.status_code


# --- the admin's own sign-in page (DESIGN §17: a password alone is not enough) ---


def admin_sign_in(client, email, password=DEFAULT_PASSWORD):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password, "next": "/admin/"})


def test_the_admin_sign_in_refuses_a_password_alone_for_an_account_with_a_second_factor(admin_user):
    _enrol(admin_user)
    client = Client()
    response = admin_sign_in(client, admin_user.email)
    assert response.status_code == 200 and "use the sign-in page (/login/)" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not signed in
    assert sign_in(Client(), admin_user.email)["Location"] == "/login/mfa/"  # /login/ asks for the code


def test_the_admin_sign_in_refuses_an_admin_who_must_set_up_mfa(settings, admin_user):
    settings.REQUIRE_MFA_FOR_PLATFORM_ADMINS = True
    response = admin_sign_in(Client(), admin_user.email)
    assert response.status_code == 200 and "second factor" in response.content.decode()


def test_the_admin_sign_in_keeps_the_lock_out_and_signs_in_a_password_only_admin(admin_user, lockout_store):
    client = Client()
    response = admin_sign_in(client, admin_user.email)
    assert response.status_code == 302 and client.get("/admin/").status_code == 200
    lockout_store.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        admin_sign_in(Client(), admin_user.email, password="wrong")
    locked = admin_sign_in(Client(), admin_user.email)
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert AuditLog.objects.filter(action="auth.login_failed", actor_name=admin_user.email).count() == 2


def test_the_admin_sign_in_is_for_staff_only(member):
    response = admin_sign_in(Client(), member.email)
    assert response.status_code == 200 and "staff account" in response.content.decode()
