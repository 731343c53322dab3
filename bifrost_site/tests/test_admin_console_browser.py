"""The admin console's flows in headless Chromium as a platform admin (issue 21, "How it will be checked"):
the dashboard with the broker up and down, cancel and rerun from the executions list. Each page is
photographed at 1400 px and 375 px (ADMIN_SCREENSHOTS, default: the test's tmp_path)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD
from bifrost_site.testing.browser import headless_chromium, live_daphne, page_wait
from bifrost_site.testing.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30
WIDE, PHONE = 1400, 375


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ADMIN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def signed_in(admin_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    with live_daphne() as base_url, headless_chromium() as driver:
        driver.set_window_size(WIDE, 1000)
        driver.get(f"{base_url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(admin_user.email)
        driver.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "user-tools")))
        yield base_url, driver


def open_page(driver, url: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(url)
    page_wait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "content")))


def photograph(driver, folder: Path, name: str) -> dict[int, int]:
    """The page at 1400 px and at 375 px (full height), then back to 1400 px; returns how many pixels the
    page was wider than the window at each width."""
    overflow = {}
    for width in (WIDE, PHONE):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 600), 4000))
        driver.save_screenshot(str(folder / f"{name}-{width}.png"))
        overflow[width] = sideways_overflow(driver)
    driver.set_window_size(WIDE, 1000)
    return overflow


def sideways_overflow(driver) -> int:
    return driver.execute_script(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth;"
    )


def saved(driver) -> None:
    """Wait for the page after a Save to say it saved."""
    from selenium.webdriver.common.by import By

    page_wait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist .success"))


def csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_dashboard_with_the_broker_up(admin_user, org, shots):
    from selenium.webdriver.common.by import By

    from bifrost_site import queues
    from bifrost_site.celery import app
    from executions.tests.factories import ExecutionFactory

    with app.connection_for_write() as connection:
        queues.declare_topology(connection)  # as a worker does when it starts
    ExecutionFactory(organization=org, status="Running", workflow_name="sync_mailboxes")
    ExecutionFactory(organization=org, status="Failed", workflow_name="onboard_user")
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/")
        dashboard = driver.find_element(By.ID, "bifrost-dashboard")
        assert "dead-lettered" in dashboard.text.lower() and "online" in dashboard.text, dashboard.text
        assert "unreachable" not in dashboard.text
        overflow = photograph(driver, shots, "dashboard-broker-up")
        assert max(overflow.values()) <= 0, overflow
        # A figure opens the list it counts.
        driver.find_element(By.PARTIAL_LINK_TEXT, "Failed in the last 24 h").click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) == 1 and "onboard_user" in rows[0].text
        assert not csp_violations(driver)


def test_dashboard_with_the_broker_down(admin_user, monkeypatch, shots):
    from selenium.webdriver.common.by import By

    monkeypatch.setenv("RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}//")  # the server's broker
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/")
        text = driver.find_element(By.ID, "dashboard-broker").text
        assert "The broker (RabbitMQ) is unreachable" in text
        overflow = photograph(driver, shots, "dashboard-broker-down")
        assert max(overflow.values()) <= 0, overflow


def test_cancel_and_rerun_from_the_executions_list(admin_user, org, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    from executions.models import Execution
    from executions.tests.factories import ExecutionFactory
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(name="reset_password")
    pending = ExecutionFactory(organization=org, workflow_name="reset_password", status="Pending", parameters={})
    failed = ExecutionFactory(organization=org, workflow_name="reset_password", status="Failed", parameters={})
    with signed_in(admin_user) as (base_url, driver):
        changelist = f"{base_url}/admin/executions/execution/"
        open_page(driver, changelist)
        photograph(driver, shots, "executions-list")
        # Bulk cancel: tick the pending run, choose the action, Go.
        driver.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{pending.id}']").click()
        Select(driver.find_element(By.NAME, "action")).select_by_value("cancel_selected")
        driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()
        message = page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
        assert "The run of reset_password was cancelled." in message.text
        pending.refresh_from_db()
        assert pending.status == "Cancelled"
        # Bulk rerun of the failed one, on the list loaded afresh (no element of the page before the action).
        open_page(driver, changelist)
        driver.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{failed.id}']").click()
        Select(driver.find_element(By.NAME, "action")).select_by_value("rerun_selected")
        driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()
        message = page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
        assert "A new run of reset_password was started with the same parameters" in message.text
        photograph(driver, shots, "executions-after-actions")
        rerun = Execution.objects.get(rerun_of=failed)
        # From a run's page: Rerun lands on the new run's live log.
        open_page(driver, f"{changelist}{failed.id}/change/")
        photograph(driver, shots, "execution-change")
        driver.find_element(By.XPATH, "//button[normalize-space()='Rerun']").click()
        page_wait(driver, WAIT).until(lambda d: "/admin/" not in d.current_url)
        second = Execution.objects.filter(rerun_of=failed).exclude(pk=rerun.pk).get()
        assert driver.current_url == f"{base_url}/executions/{second.id}/"
        assert not csp_violations(driver)


def test_connect_an_oauth_connection_against_a_local_provider(admin_user, shots):
    from selenium.webdriver.common.by import By

    from oauth_app.models import OAuthConnection
    from oauth_app.tests.provider import OAuthProvider

    provider = OAuthProvider().start()
    try:
        provider.register_client("bifrost-client", "provider-client-secret-123")
        connection = OAuthConnection.objects.create(
            name="graph",
            flow_type="authorization_code",
            client_id="bifrost-client",
            client_secret="provider-client-secret-123",
            authorization_url=provider.authorize_url,
            token_url=provider.token_url,
            scopes=["User.Read"],
        )
        with signed_in(admin_user) as (base_url, driver):
            page = f"{base_url}/admin/oauth_app/oauthconnection/{connection.pk}/change/"
            open_page(driver, page)
            photograph(driver, shots, "oauth-before-connect")
            driver.find_element(By.XPATH, "//button[normalize-space()='Connect']").click()
            # The provider consents at once and redirects to the callback, which comes back to this page.
            page_wait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist"))
            assert driver.current_url == page
            assert "is connected and ready to use" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
            assert driver.find_element(By.XPATH, "//button[normalize-space()='Reconnect']")
            assert "Completed" in driver.find_element(By.CSS_SELECTOR, ".field-status").text
            photograph(driver, shots, "oauth-connected")
            driver.find_element(By.XPATH, "//button[normalize-space()='Refresh now']").click()
            page_wait(driver, WAIT).until(
                lambda d: "Refreshed OAuth connection" in d.find_element(By.CSS_SELECTOR, ".messagelist").text
            )
            assert not csp_violations(driver)
    finally:
        provider.stop()


def test_config_value_input_follows_the_type(admin_user, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from orgs.models import Config
    from secrets_app.models import Secret

    Secret.objects.create(name="graph_client_secret", value="s3cret", organization=None)
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/orgs/config/add/")

        def visible() -> list[str]:
            rows = driver.find_elements(By.CSS_SELECTOR, ".form-row[class*='field-value_']")
            return [row.get_attribute("class").split("field-")[-1] for row in rows if row.is_displayed()]

        assert visible() == ["value_string"]
        photograph(driver, shots, "config-add-string")
        select = Select(driver.find_element(By.ID, "id_config_type"))
        select.select_by_value("bool")
        assert visible() == ["value_bool"]
        select.select_by_value("secret_ref")
        assert visible() == ["value_secret_ref"]
        driver.find_element(By.ID, "id_key").send_keys("graph_secret_ref")
        Select(driver.find_element(By.ID, "id_value_secret_ref")).select_by_value("graph_client_secret")
        photograph(driver, shots, "config-add-secret-ref")
        driver.find_element(By.NAME, "_save").click()
        saved(driver)
        assert Config.objects.get(key="graph_secret_ref").value == "graph_client_secret"
        assert not csp_violations(driver)


def test_build_a_form_from_a_workflows_parameters_and_preview_it(admin_user, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from forms_app.models import Form
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(
        name="onboard_user",
        parameters=[
            {"name": "user_email", "type": "email", "required": True, "label": "E-mail"},
            {"name": "licence_count", "type": "int", "validation": {"min": 1, "max": 5}},
            {"name": "send_welcome", "type": "bool"},
        ],
    )
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/forms_app/form/add/")
        driver.find_element(By.ID, "id_name").send_keys("Onboard a new employee")
        Select(driver.find_element(By.ID, "id_workflow")).select_by_value("onboard_user")
        driver.find_element(By.ID, "bifrost-schema-skeleton").click()
        preview = driver.find_element(By.ID, "bifrost-schema-preview")
        page_wait(driver, WAIT).until(lambda d: "E-mail" in preview.text)
        assert "Licence count" in preview.text and "Send welcome" in preview.text
        page_wait(driver, WAIT).until(
            lambda d: "The schema is valid." in d.find_element(By.ID, "bifrost-schema-status").text
        )
        overflow = photograph(driver, shots, "form-skeleton-preview")
        assert max(overflow.values()) <= 0, overflow
        # A mistake is reported by path as you type; fixing it clears the report.
        editor = driver.find_element(By.ID, "id_schema")
        schema = editor.get_attribute("value")
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
            editor,
            schema.replace('"type": "checkbox"', '"type": "colour"'),
        )
        page_wait(driver, WAIT).until(
            lambda d: "schema.fields[2]" in d.find_element(By.ID, "bifrost-schema-status").text
        )
        photograph(driver, shots, "form-schema-error")
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", editor, schema
        )
        page_wait(driver, WAIT).until(
            lambda d: "The schema is valid." in d.find_element(By.ID, "bifrost-schema-status").text
        )
        driver.find_element(By.NAME, "_save").click()
        saved(driver)
        form = Form.objects.get(name="Onboard a new employee")
        assert [f["name"] for f in form.schema["fields"]] == ["user_email", "licence_count", "send_welcome"]
        assert not csp_violations(driver)


def test_run_a_workflow_from_its_run_page_and_land_on_the_live_log(admin_user, org, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from executions.models import Execution
    from workflows.tests.factories import WorkflowFactory

    workflow = WorkflowFactory(
        name="onboard_user",
        parameters=[
            {"name": "user_email", "type": "email", "required": True, "label": "E-mail"},
            {"name": "licence_count", "type": "int", "validation": {"min": 1, "max": 5}},
        ],
    )
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/workflows/workflow/{workflow.pk}/change/")
        driver.find_element(By.CSS_SELECTOR, f"a[href='/admin/workflows/workflow/{workflow.pk}/run/']").click()
        page_wait(driver, WAIT).until(lambda d: d.find_elements(By.ID, "workflow-run-form"))
        # A value the validator refuses is named on its input.
        driver.find_element(By.NAME, "param_licence_count").send_keys("9")
        driver.find_element(By.NAME, "_run").click()
        page_wait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".field-param_licence_count.errors"))
        overflow = photograph(driver, shots, "workflow-run-errors")
        assert max(overflow.values()) <= 0, overflow
        driver.find_element(By.NAME, "param_user_email").send_keys("new.hire@contoso.test")
        field = driver.find_element(By.NAME, "param_licence_count")
        field.clear()
        field.send_keys("2")
        Select(driver.find_element(By.NAME, "organization")).select_by_value(str(org.pk))
        Select(driver.find_element(By.NAME, "mode")).select_by_value("async")
        driver.find_element(By.NAME, "_run").click()
        page_wait(driver, WAIT).until(lambda d: "/executions/" in d.current_url and "/admin/" not in d.current_url)
        execution = Execution.objects.get(workflow_name="onboard_user")
        assert driver.current_url == f"{base_url}/executions/{execution.id}/"
        assert execution.parameters == {"user_email": "new.hire@contoso.test", "licence_count": 2}
        assert execution.organization_id == org.pk
        photograph(driver, shots, "workflow-run-live-log")
        assert not csp_violations(driver)


def test_edit_a_schedule_on_its_workflows_page(admin_user, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from workflows.models import Schedule
    from workflows.tests.factories import WorkflowFactory

    workflow = WorkflowFactory(name="weekly_report")
    schedule = Schedule.objects.create(workflow=workflow, cron="0 8 * * 1", target="global")
    with signed_in(admin_user) as (base_url, driver):
        open_page(driver, f"{base_url}/admin/workflows/workflow/{workflow.pk}/change/")
        assert "At 08:00, only on Monday" in driver.find_element(By.CSS_SELECTOR, ".field-cron_preview").text
        overflow = photograph(driver, shots, "workflow-schedules")
        assert overflow[WIDE] <= 0, overflow
        cron = driver.find_element(By.NAME, "schedules-0-cron")
        cron.clear()
        cron.send_keys("15 7 * * 1-5")
        # The line under it says the new expression in words as it is typed (the schedules API's check).
        page_wait(driver, WAIT).until(
            lambda d: "Monday through Friday" in d.find_element(By.CSS_SELECTOR, ".field-cron_preview").text
        )
        timezone = driver.find_element(By.NAME, "schedules-0-timezone")
        timezone.clear()
        timezone.send_keys("Europe/Amsterdam")
        Select(driver.find_element(By.NAME, "schedules-0-overlap_policy")).select_by_value("allow")
        driver.find_element(By.NAME, "_continue").click()
        saved(driver)
        schedule.refresh_from_db()
        assert (schedule.cron, schedule.timezone, schedule.overlap_policy) == (
            "15 7 * * 1-5",
            "Europe/Amsterdam",
            "allow",
        )
        assert "Monday through Friday" in driver.find_element(By.CSS_SELECTOR, ".field-cron_preview").text
        photograph(driver, shots, "workflow-schedules-saved")
        assert not csp_violations(driver)
