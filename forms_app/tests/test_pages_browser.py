"""The form page's result in a real browser with the real worker: a link to the run, and "Run again"
reopening the form with the same values (the data-provider select and form-only fields included)."""

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory, UserRoleFactory
from bifrost_site.testing.browser import headless_chromium, page_wait
from forms_app.tests.factories import FormFactory, FormRoleFactory
from forms_app.tests.test_api import FIELDS

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WAIT = 30


def test_sync_result_links_to_the_run_and_runs_again_prefilled(prefork_worker, discovered, live_server, org):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    from executions.models import Execution

    form = FormFactory(organization=org, name="Onboard a user", workflow="onboard_user", schema={"fields": FIELDS})
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    user = UserRoleFactory(role=role).user
    session = Client()
    session.force_login(user)

    with headless_chromium() as driver:
        wait = page_wait(driver, WAIT)
        driver.get(f"{live_server.url}/forms/")
        driver.add_cookie({"name": "sessionid", "value": session.cookies["sessionid"].value, "path": "/"})
        driver.get(f"{live_server.url}/forms/{form.id}/")
        wait.until(lambda d: len(Select(d.find_element(By.ID, "field-licence")).options) == 3)
        driver.find_element(By.ID, "field-email").send_keys("new.user@contoso.test")
        Select(driver.find_element(By.ID, "field-licence")).select_by_visible_text("gold B")
        driver.find_element(By.ID, "field-has_manager").click()
        wait.until(ec.visibility_of_element_located((By.ID, "field-manager_email")))
        driver.find_element(By.ID, "field-manager_email").send_keys("boss@contoso.test")
        driver.find_element(By.ID, "form-submit").click()
        wait.until(ec.visibility_of_element_located((By.ID, "result-json")))
        first = Execution.objects.get(form=form)
        assert driver.find_element(By.ID, "result-status").text == "Succeeded"
        link = driver.find_element(By.ID, "result-execution")
        assert link.is_displayed() and link.get_attribute("href").endswith(f"/executions/{first.id}/")

        driver.find_element(By.ID, "result-run-again").click()
        wait.until(lambda d: f"rerun={first.id}" in d.current_url)
        wait.until(lambda d: Select(d.find_element(By.ID, "field-licence")).first_selected_option.text == "gold B")
        assert driver.find_element(By.ID, "field-email").get_attribute("value") == "new.user@contoso.test"
        assert driver.find_element(By.ID, "field-has_manager").is_selected()  # a form-only field, kept by the browser
        assert driver.find_element(By.ID, "field-manager_email").get_attribute("value") == "boss@contoso.test"
        driver.find_element(By.ID, "form-submit").click()
        wait.until(ec.visibility_of_element_located((By.ID, "result-json")))
        second = Execution.objects.filter(form=form).exclude(id=first.id).get()
        assert second.parameters == first.parameters

        driver.get(f"{live_server.url}/executions/{second.id}/")
        run_again = wait.until(ec.presence_of_element_located((By.ID, "run-again")))
        assert run_again.get_attribute("href").endswith(f"/forms/{form.id}/?rerun={second.id}")
