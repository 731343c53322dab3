"""The Content-Security-Policy in a real browser: the pages still work and nothing is blocked."""

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD
from bifrost_site.testing.browser import headless_chromium, live_daphne, page_wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds; waits end as soon as the condition holds


def csp_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]
    ]


def test_swagger_ui_and_admin_work_under_the_policy(admin_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    with live_daphne() as base_url, headless_chromium() as driver:
        driver.get(f"{base_url}/docs")
        # Swagger UI renders the operations only when its scripts ran and the schema loaded.
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
        # Swagger UI draws the tags as they come into view; the first tag's paths prove the schema was loaded.
        page_wait(driver, WAIT).until(lambda d: "/api/approvals" in d.page_source)
        assert csp_violations(driver) == []

        driver.get(f"{base_url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(admin_user.email)
        driver.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "user-tools")))
        driver.get(f"{base_url}/admin/orgs/organization/add/")
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.NAME, "name")))
        assert csp_violations(driver) == []
