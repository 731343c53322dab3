"""Every portal page in headless Chromium at 1400 px and 375 px, as an ORG user and as a platform admin:
no serious or critical axe-core violation, nothing wider than the screen, no CSP violation.

Screenshots land in $PORTAL_SCREENSHOTS (default: the temp directory's bifrost-portal/) for a human to look at.
"""

import os
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD, RoleFactory, UserRoleFactory
from bifrost_site.testing.accessibility import axe_violations, overflows
from bifrost_site.testing.browser import headless_chromium, live_daphne
from executions.models import ExecutionLog
from executions.tests.factories import ExecutionFactory
from forms_app.tests.factories import FormFactory, FormRoleFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30
WIDTHS = (1400, 375)
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", Path(tempfile.gettempdir()) / "bifrost-portal"))


@pytest.fixture
def portal(org, admin_user):
    WorkflowFactory(
        name="onboard_user",
        category="Users",
        parameters=[{"name": "email", "type": "email"}, {"name": "licence", "type": "string"}],
    )
    WorkflowFactory(name="mailbox_report", category="Reports")
    form = FormFactory(
        organization=org,
        name="Onboard a user",
        workflow="onboard_user",
        description="Creates a mailbox and assigns a licence.",
        schema={
            "fields": [
                {"name": "intro", "type": "markdown", "content": "Fill in the **new hire's** details."},
                {"name": "email", "type": "email", "label": "Email", "required": True},
                {
                    "name": "licence",
                    "type": "select",
                    "label": "Licence",
                    "options": [{"label": "E3", "value": "e3"}, {"label": "E5", "value": "e5"}],
                },
                {"name": "notes", "type": "textarea", "label": "Notes", "help_text": "Anything the team should know."},
                {"name": "urgent", "type": "checkbox", "label": "Urgent"},
            ]
        },
    )
    FormFactory(organization=org, name="Mailbox report", workflow="mailbox_report", access_level="authenticated")
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    user = UserRoleFactory(role=role).user
    now = timezone.now()
    run = ExecutionFactory(
        organization=org,
        executed_by=user,
        executed_by_name=user.email,
        form=form,
        trigger="form",
        workflow_name="onboard_user",
        status="CompletedWithErrors",
        parameters={"email": "new.hire@contoso.test", "licence": "e5"},
        result={"success": False, "mailbox": "new.hire@contoso.test", "warnings": ["licence pending"]},
        result_type="json",
        duration_ms=72_000,
    )
    for sequence, level in enumerate(["info", "debug", "warning", "info", "traceback", "error"], start=1):
        ExecutionLog.objects.create(
            execution=run, sequence=sequence, level=level, message=f"{level} line {sequence}", timestamp=now
        )
    failed = ExecutionFactory(
        organization=org,
        executed_by=user,
        executed_by_name=user.email,
        workflow_name="mailbox_report",
        status="Failed",
        error_type="UserError",
        error_message="The mailbox does not exist.",
    )
    ExecutionFactory(organization=None, executed_by=admin_user, workflow_name="mailbox_report", status="Running")
    return {"form": form, "user": user, "run": run, "failed": failed}


def sign_in(driver, base_url, user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/login/")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.NAME, "username").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: "/login/" not in d.current_url)


def console_errors(driver) -> list[str]:
    """CSP violations and errors in the browser console (the admin's /favicon.ico request aside)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if ("Content Security Policy" in entry["message"] or entry["level"] == "SEVERE")
        and "/favicon.ico" not in entry["message"]
    ]


def check_page(driver, base_url, path, name, ready_css="main"):
    """Open `path` at each width; return the problems found (axe, overflow, CSP)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    problems = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        driver.set_window_size(width, 1000)
        driver.get(base_url + path)
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ready_css)))
        WebDriverWait(driver, WAIT).until(
            lambda d: d.execute_script("return document.documentElement.dataset.timesLocalized") == "true"
        )
        problems += [f"{path} @{width}: {v}" for v in axe_violations(driver)]
        problems += [f"{path} @{width}: overflow {o}" for o in overflows(driver)]
        problems += [f"{path} @{width}: {message}" for message in console_errors(driver)]
        driver.set_window_size(width, max(1000, driver.execute_script("return document.body.scrollHeight") + 120))
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    return problems


def test_every_page_passes_axe_and_fits_a_phone(portal, admin_user):
    form, user, run, failed = portal["form"], portal["user"], portal["run"], portal["failed"]
    problems = []
    with live_daphne() as base_url, headless_chromium() as driver:
        problems += check_page(driver, base_url, "/login/", "sign-in", "#login-form")
        sign_in(driver, base_url, user)
        problems += check_page(driver, base_url, "/forms/", "user-forms", ".form-list")
        problems += check_page(driver, base_url, f"/forms/{form.id}/", "user-form", "#field-email")
        problems += check_page(driver, base_url, f"/forms/{form.id}/?rerun={run.id}", "user-form-rerun", "#field-email")
        problems += check_page(driver, base_url, "/executions/", "user-runs", "#executions")
        problems += check_page(driver, base_url, f"/executions/{run.id}/", "user-run", ".log-line")
        problems += check_page(driver, base_url, f"/executions/{failed.id}/", "user-run-failed", "#log-pane")
        driver.delete_all_cookies()
        sign_in(driver, base_url, admin_user)
        problems += check_page(driver, base_url, "/forms/", "admin-forms", ".form-list")
        problems += check_page(driver, base_url, "/executions/", "admin-runs", "#executions")
        problems += check_page(driver, base_url, f"/executions/{run.id}/", "admin-run", ".log-line")
    assert problems == [], "\n".join(problems)
