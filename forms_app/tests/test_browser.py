"""A real browser fills and submits a form: conditional field, data-provider select, result.

The live server runs in this process (pytest-django `live_server`); the data provider and the
submitted workflow run on the real prefork worker (workspace: executions/tests/workspace_fixture/wf_forms.py).
"""

import shutil
import tempfile

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory, UserRoleFactory
from bifrost_site.testing.browser import page_wait
from forms_app.tests.factories import FormFactory, FormRoleFactory
from forms_app.tests.test_api import FIELDS

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("chromium and chromedriver are required (bash scripts/system_packages.sh)")
    profile = tempfile.mkdtemp(prefix="bifrost-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1100,1400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_user_fills_and_submits_a_form_in_chromium(prefork_worker, discovered, live_server, browser, org):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    from executions.models import Execution

    form = FormFactory(
        organization=org,
        name="Onboard a user",
        workflow="onboard_user",
        schema={"fields": FIELDS},
        description="Creates a mailbox and assigns a licence.",
    )
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    user = UserRoleFactory(role=role).user
    session = Client()
    session.force_login(user)

    browser.get(f"{live_server.url}/forms/")
    browser.add_cookie({"name": "sessionid", "value": session.cookies["sessionid"].value, "path": "/"})
    browser.get(f"{live_server.url}/forms/{form.id}/")
    wait = page_wait(browser, 30)

    # the worker ran the data provider for the select (static input tier=gold)
    wait.until(lambda d: len(Select(d.find_element(By.ID, "field-licence")).options) == 3)
    assert [o.text for o in Select(browser.find_element(By.ID, "field-licence")).options][1:] == ["gold A", "gold B"]
    manager = browser.find_element(By.CSS_SELECTOR, '[data-field="manager_email"]')
    assert not manager.is_displayed()

    browser.find_element(By.ID, "field-email").send_keys("new.user@contoso.test")
    Select(browser.find_element(By.ID, "field-licence")).select_by_visible_text("gold B")
    browser.find_element(By.ID, "field-has_manager").click()
    wait.until(lambda d: manager.is_displayed())

    browser.find_element(By.ID, "form-submit").click()  # manager email missing: caught in the browser
    wait.until(lambda d: "required" in manager.find_element(By.CLASS_NAME, "error").text)
    assert not Execution.objects.filter(form=form).exists()

    browser.find_element(By.ID, "field-manager_email").send_keys("boss@contoso.test")
    browser.find_element(By.ID, "form-submit").click()
    result = wait.until(ec.visibility_of_element_located((By.ID, "result-json")))
    assert "lic_b" in result.text and "boss@contoso.test" in result.text
    browser.save_screenshot(str(tempfile.gettempdir()) + "/bifrost-form-page.png")

    execution = Execution.objects.get(form=form)
    assert execution.executed_by == user and execution.trigger == "form" and execution.status == "Success"
    # only the workflow's declared parameters are passed on (has_manager is a form-only field)
    assert execution.parameters == {
        "email": "new.user@contoso.test",
        "licence": "lic_b",
        "manager_email": "boss@contoso.test",
    }
