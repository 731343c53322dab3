"""Identity in headless Chromium (DESIGN §17): the /account/ page at 1400 and 375 px (axe, overflow,
CSP; screenshots for a human), and a passkey registered there with Chromium's virtual authenticator
(DevTools WebAuthn domain) that then signs the user in after the password.

Passkeys are bound to a host name and WebAuthn refuses IP addresses, so the browser talks to the
server as http://localhost (a secure context)."""

import os
import tempfile
from pathlib import Path

import pytest

from accounts.models import Passkey
from accounts.tests.factories import DEFAULT_PASSWORD
from bifrost_site.testing.accessibility import axe_violations, overflows
from bifrost_site.testing.browser import headless_chromium, live_daphne, login_page_sign_in, page_wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", Path(tempfile.gettempdir()) / "bifrost-portal"))


def wait_for(driver, css):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def sign_in_with_password(driver, base_url, user):

    driver.get(f"{base_url}/login/")
    login_page_sign_in(driver, user.email, DEFAULT_PASSWORD)


def csp_and_console_errors(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if ("Content Security Policy" in entry["message"] or entry["level"] == "SEVERE")
        and "/favicon.ico" not in entry["message"]
    ]


def test_account_page_and_a_passkey_from_registration_to_sign_in(member):
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with live_daphne() as base_url, headless_chromium() as driver:
        base_url = base_url.replace("127.0.0.1", "localhost")
        driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
        driver.execute_cdp_cmd(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        sign_in_with_password(driver, base_url, member)
        page_wait(driver, WAIT).until(lambda d: "/login/" not in d.current_url)

        for width in (1400, 375):
            driver.set_window_size(width, 1000)
            driver.get(f"{base_url}/account/")
            wait_for(driver, "#tokens")
            problems += [f"/account/ @{width}: {v}" for v in axe_violations(driver)]
            problems += [f"/account/ @{width}: overflow {o}" for o in overflows(driver)]
            driver.set_window_size(width, max(1000, driver.execute_script("return document.body.scrollHeight") + 120))
            driver.save_screenshot(str(SHOTS / f"account-{width}.png"))
        driver.set_window_size(1400, 1000)

        driver.find_element(By.CSS_SELECTOR, "#passkey-register input[name=name]").send_keys("Work laptop")
        driver.find_element(By.CSS_SELECTOR, "#passkey-register button[type=submit]").click()
        page_wait(driver, WAIT).until(
            lambda d: (
                d.find_element(By.ID, "passkey-recovery").is_displayed()
                or d.find_element(By.ID, "passkey-register-status").text
            )
        )
        status = driver.find_element(By.ID, "passkey-register-status").text
        assert status == "Passkey added.", status
        codes = driver.find_elements(By.CSS_SELECTOR, "#passkey-recovery-codes li")
        assert len(codes) == 10
        assert Passkey.objects.filter(user=member, name="Work laptop").exists()
        driver.save_screenshot(str(SHOTS / "account-passkey-added-1400.png"))
        problems += csp_and_console_errors(driver)

        driver.delete_all_cookies()
        sign_in_with_password(driver, base_url, member)
        page_wait(driver, WAIT).until(lambda d: d.current_url.endswith("/login/mfa/"))
        wait_for(driver, "#passkey-signin").click()
        page_wait(driver, WAIT).until(lambda d: d.current_url.endswith("/forms/"))
        assert Passkey.objects.get(user=member).last_used_at is not None
        driver.get(f"{base_url}/account/")
        wait_for(driver, "#passkeys")
        assert "Work laptop" in driver.find_element(By.ID, "passkeys").text
    assert problems == [], "\n".join(problems)


def email_step(driver, base_url, email):
    """The `/login/` page's first step: the email, then "Continue"."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/login/")
    wait_for(driver, "#login-form[data-step=email]")
    driver.find_element(By.NAME, "username").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()


def page_problems(driver, name: str) -> list[str]:
    """axe, overflow at the current width, and a screenshot for a human."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = driver.get_window_size()["width"]
    driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    return [f"{name} @{width}: {v}" for v in axe_violations(driver)] + [
        f"{name} @{width}: overflow {o}" for o in overflows(driver)
    ]


def test_single_sign_on_in_the_browser_creates_the_user_in_the_organization(org):
    """/login/ with an SSO domain's email → the password step offers SSO → the loopback OIDC provider → back,
    signed in and created. With `enforce` the email step goes straight to the provider; a domain without
    SSO gets the password step, and SSO for it is refused with a clear page."""
    from selenium.webdriver.common.by import By

    from accounts.models import OrganizationSSO, User
    from accounts.tests.factories import RoleFactory
    from accounts.tests.oidc_provider import OIDCProvider

    role = RoleFactory(organization=org, name="Technicians")
    problems = []
    with OIDCProvider() as provider, live_daphne() as base_url, headless_chromium() as driver:
        sso = OrganizationSSO.objects.create(
            organization=org,
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            email_domains=["contoso.test"],
        )
        sso.default_roles.set([role])
        for width in (1400, 375):
            driver.set_window_size(width, 900)
            driver.get(f"{base_url}/login/")
            wait_for(driver, "#login-form[data-step=email]")
            problems += page_problems(driver, "login-email")
            email_step(driver, base_url, "jit.user@contoso.test")
            wait_for(driver, "#login-form[data-step=password]")
            assert driver.find_element(By.ID, "login-email").text.startswith("Signing in as jit.user@contoso.test")
            problems += page_problems(driver, "login-password-or-sso")

        provider.next_user = {"email": "jit.user@contoso.test", "name": "Jit User", "email_verified": True}
        driver.find_element(By.ID, "sso-button").click()
        page_wait(driver, WAIT).until(lambda d: d.current_url.startswith(f"{base_url}/forms/"))
        assert "/authorize" in provider.requests and "/token" in provider.requests
        user = User.objects.get(email="jit.user@contoso.test")
        assert user.organization_id == org.id and list(user.roles.values_list("name", flat=True)) == ["Technicians"]

        sso.enforce = True
        sso.save()
        driver.delete_all_cookies()
        provider.next_user = {"email": "second@contoso.test", "email_verified": True}
        email_step(driver, base_url, "second@contoso.test")  # no password step: straight to the provider
        page_wait(driver, WAIT).until(lambda d: d.current_url.startswith(f"{base_url}/forms/"))
        assert User.objects.filter(email="second@contoso.test", organization=org).exists()

        driver.delete_all_cookies()
        email_step(driver, base_url, "nobody@unknown.test")
        wait_for(driver, "#login-form[data-step=password]")
        assert driver.find_elements(By.ID, "sso-button") == []
        problems += page_problems(driver, "login-password")
        driver.find_element(By.ID, "login-restart").click()  # "Not you?"
        wait_for(driver, "#login-form[data-step=email]")
        driver.get(f"{base_url}/login/sso/?email=nobody@unknown.test")
        error = wait_for(driver, "#sso-error")
        assert error.text == "No single sign-on is set up for unknown.test."
        # the refusal page answers 400, which the console reports; nothing else may be there (CSP above all)
        assert [m for m in csp_and_console_errors(driver) if "status of 400" not in m] == []
    assert problems == [], "\n".join(problems)


def test_a_platform_admin_resets_a_users_second_factors_in_the_admin(admin_user, member):
    """The user's admin page shows the second factors and "Reset second factors"; the confirmation page (axe,
    375 px) resets them."""
    from selenium.webdriver.common.by import By

    from accounts import mfa

    Passkey.objects.create(user=member, name="Phone", credential_id="cred-phone", credential_data="data")
    mfa.recovery_codes_replace(member)
    problems = []
    with live_daphne() as base_url, headless_chromium() as driver:
        driver.set_window_size(1400, 1000)
        driver.get(f"{base_url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(admin_user.email)
        driver.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait_for(driver, "#user-tools")
        driver.get(f"{base_url}/admin/accounts/user/{member.id}/change/")
        wait_for(driver, "#mfa-reset-link")
        assert "passkey “Phone”; 10 recovery codes left" in driver.find_element(By.ID, "content").text
        driver.save_screenshot(str(SHOTS / "admin-user-mfa-1400.png"))
        driver.find_element(By.ID, "mfa-reset-link").click()
        wait_for(driver, "#mfa-reset-form")
        for width in (1400, 375):
            driver.set_window_size(width, 900)
            problems += page_problems(driver, "admin-mfa-reset")
        driver.set_window_size(1400, 900)
        driver.find_element(By.CSS_SELECTOR, "#mfa-reset-form input[type=submit]").click()
        message = wait_for(driver, ".messagelist .success")
        assert message.text.startswith("Second factors reset for member@contoso.test")
        assert not Passkey.objects.filter(user=member).exists()
    assert problems == [], "\n".join(problems)
