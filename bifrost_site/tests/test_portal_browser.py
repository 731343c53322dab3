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
from bifrost_site.testing.browser import headless_chromium, live_daphne, login_page_sign_in, page_wait
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
                {
                    "name": "site",
                    "type": "radio",
                    "label": "Site",
                    "options": [{"label": "London", "value": "lon"}, {"label": "Paris", "value": "par"}],
                },
                {
                    "name": "groups",
                    "type": "multi_select",
                    "label": "Groups",
                    "options": [{"label": "Sales", "value": "sales"}, {"label": "IT", "value": "it"}],
                },
                {"name": "start", "type": "date", "label": "Start date"},
                {"name": "seats", "type": "number", "label": "Seats"},
                {"name": "contract", "type": "file", "label": "Contract"},
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

    driver.get(f"{base_url}/login/")
    login_page_sign_in(driver, user.email, DEFAULT_PASSWORD, timeout=WAIT)
    page_wait(driver, WAIT).until(lambda d: "/login/" not in d.current_url)


def console_errors(driver, page_url="") -> list[str]:
    """CSP violations and errors in the browser console (the admin's /favicon.ico request and the status of
    the page itself, such as a 404 page's 404, aside)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if ("Content Security Policy" in entry["message"] or entry["level"] == "SEVERE")
        and "/favicon.ico" not in entry["message"]
        and not entry["message"].startswith(f"{page_url} - Failed to load resource")
    ]


def check_page(driver, base_url, path, name, ready_css="main"):
    """Open `path` at each width; return the problems found (axe, overflow, CSP)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    problems = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        driver.set_window_size(width, 1000)
        driver.get(base_url + path)
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ready_css)))
        page_wait(driver, WAIT).until(
            lambda d: d.execute_script("return document.documentElement.dataset.timesLocalized") == "true"
        )
        problems += [f"{path} @{width}: {v}" for v in axe_violations(driver)]
        problems += [f"{path} @{width}: overflow {o}" for o in overflows(driver)]
        problems += [f"{path} @{width}: {message}" for message in console_errors(driver, base_url + path)]
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
        problems += check_page(driver, base_url, "/executions/no-such-run/", "not-found", ".card")
        problems += check_page(driver, base_url, "/logout/", "sign-out", ".card")
        driver.delete_all_cookies()
        sign_in(driver, base_url, admin_user)
        problems += check_page(driver, base_url, "/forms/", "admin-forms", ".form-list")
        problems += check_page(driver, base_url, "/executions/", "admin-runs", "#executions")
        problems += check_page(driver, base_url, f"/executions/{run.id}/", "admin-run", ".log-line")
    assert problems == [], "\n".join(problems)


def test_a_user_finds_an_old_run_filters_its_log_cancels_and_runs_it_again(portal):
    """From / to the runs, through the search and the pages, into a run: log search and level filter,
    the download, Cancel, then Run again back to the prefilled form; live status on the history."""
    import datetime

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    from executions import events
    from executions.models import Execution

    form, user = portal["form"], portal["user"]
    target = ExecutionFactory(
        organization=form.organization,
        executed_by=user,
        form=form,
        trigger="form",
        workflow_name="onboard_user",
        status="Running",
        parameters={"email": "old.hire@contoso.test", "licence": "e3"},
        completed_at=None,
        duration_ms=None,
    )
    for sequence, level in enumerate(["info", "debug", "warning", "error", "info"], start=1):
        ExecutionLog.objects.create(
            execution=target,
            sequence=sequence,
            level=level,
            message=f"step {sequence} {level}",
            timestamp=timezone.now(),
        )
    Execution.objects.filter(id=target.id).update(created_at=timezone.now() - datetime.timedelta(days=3))
    newer = ExecutionFactory.create_batch(55, organization=form.organization, executed_by=user, workflow_name="noise")
    Execution.objects.filter(id__in=[e.id for e in newer]).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )

    with live_daphne() as base_url, headless_chromium() as driver:
        wait = page_wait(driver, WAIT)
        sign_in(driver, base_url, user)
        assert driver.current_url == f"{base_url}/forms/"  # "/" and sign-in land ORG users on their forms
        driver.find_element(By.LINK_TEXT, "Runs").click()
        wait.until(ec.presence_of_element_located((By.ID, "executions")))
        rows = driver.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
        assert len(rows) == 50 and str(target.id) not in driver.page_source
        driver.find_element(By.ID, "page-older").click()
        wait.until(lambda d: f'data-execution-id="{target.id}"' in d.page_source)
        driver.find_element(By.ID, "page-newer").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#executions tbody tr")) == 50)
        search = driver.find_element(By.ID, "filter-q")
        search.send_keys("onboard" + Keys.ENTER)
        wait.until(lambda d: "q=onboard" in d.current_url)
        ids = [
            e.get_attribute("data-execution-id") for e in driver.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
        ]
        assert str(target.id) in ids and len(ids) == 2  # the two runs of the form, none of the 55 others

        # live status on the history: the worker's status change arrives without a reload
        wait.until(lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "live")
        badge = f'tr[data-execution-id="{target.id}"] .badge'
        assert driver.find_element(By.CSS_SELECTOR, badge).text == "Running"
        driver.find_element(By.CSS_SELECTOR, f'tr[data-execution-id="{target.id}"] a').click()

        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".log-line")) == 4)  # no DEBUG for users
        numbers = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".log-line .seq")]
        assert numbers == ["1", "2", "3", "4"]  # running numbers: no gap where the DEBUG line was
        driver.find_element(By.ID, "log-search").send_keys("warning")
        wait.until(lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".log-line") if e.is_displayed()] != [])
        visible = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".log-line") if e.is_displayed()]
        assert len(visible) == 1 and "step 3 warning" in visible[0]
        assert driver.find_element(By.ID, "line-count").text == "1 of 4 lines"
        driver.find_element(By.ID, "log-search").clear()
        driver.find_element(By.ID, "log-search").send_keys(" ")  # an input event with an empty search
        Select(driver.find_element(By.ID, "log-level")).select_by_value("error")
        visible = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".log-line") if e.is_displayed()]
        assert len(visible) == 1 and "step 4 error" in visible[0]
        text = driver.execute_async_script(
            "const done = arguments[0]; fetch(document.getElementById('download-text').href)"
            ".then(r => r.text()).then(done);"
        )
        assert "step 3 warning" in text and "debug" not in text

        driver.find_element(By.ID, "cancel-button").click()
        wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-status") == "Cancelling")
        assert "being stopped" in driver.find_element(By.CSS_SELECTOR, ".messages").text
        assert not driver.find_elements(By.ID, "cancel-button")
        assert Execution.objects.get(id=target.id).status == "Cancelling"

        # the worker ends it: the page follows
        Execution.objects.filter(id=target.id).update(status="Cancelled", duration_ms=72_000)
        events.emit_status(Execution.objects.get(id=target.id))
        wait.until(lambda d: d.find_element(By.ID, "status").text == "Cancelled")
        wait.until(lambda d: d.find_element(By.ID, "duration").text == "1 min 12 s")

        driver.find_element(By.ID, "run-again").click()
        wait.until(lambda d: d.find_element(By.ID, "field-email").get_attribute("value") == "old.hire@contoso.test")
        assert Select(driver.find_element(By.ID, "field-licence")).first_selected_option.text == "E3"
        assert driver.find_element(By.ID, "rerun-notice").is_displayed()


def test_the_top_bar_works_from_the_keyboard(portal):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with live_daphne() as base_url, headless_chromium() as driver:
        sign_in(driver, base_url, portal["user"])
        driver.set_window_size(375, 800)
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        assert focused.text == "Skip to content"
        order = []
        for _ in range(6):  # brand, the sections (Approvals when that app is installed), then the account menu
            driver.switch_to.active_element.send_keys(Keys.TAB)
            order.append(driver.switch_to.active_element.tag_name)
            if order[-1] == "summary":
                break
            order[-1] = driver.switch_to.active_element.text.strip()
        assert order[:3] == ["Bifrost", "Forms", "Runs"] and order[-1] == "summary"
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        menu = driver.find_element(By.ID, "account-menu")
        page_wait(driver, WAIT).until(lambda d: menu.get_attribute("open") is not None)
        assert "Sign out" in menu.text and "Contoso" in menu.text
        panel = driver.find_element(By.CSS_SELECTOR, ".account-panel").rect
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 375
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        page_wait(driver, WAIT).until(lambda d: menu.get_attribute("open") is None)


@pytest.mark.worker
def test_cancel_a_long_run_on_the_real_worker(prefork_worker, discovered, org):
    """A run logging slowly on the real worker: the user presses Cancel and the page follows it to Cancelled."""
    from selenium.webdriver.common.by import By

    from accounts.tests.factories import UserFactory
    from executions.services import execution_start

    user = UserFactory(organization=org)

    with live_daphne() as base_url, headless_chromium() as driver:
        wait = page_wait(driver, WAIT)
        sign_in(driver, base_url, user)
        execution = execution_start(
            workflow_name="t_slow_lines",
            parameters={"n": 200, "delay": 0.2},
            trigger="manual",
            organization=org,
            user=user,
        ).execution
        driver.get(f"{base_url}/executions/{execution.id}/")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".log-line")) >= 2)
        driver.find_element(By.ID, "cancel-button").click()
        wait.until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-status") in ("Cancelling", "Cancelled")
        )
        wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-status") == "Cancelled")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-execution-complete") == "true")
        assert not [form for form in driver.find_elements(By.ID, "cancel-form") if form.is_displayed()]
        assert len(driver.find_elements(By.CSS_SELECTOR, ".log-line")) < 200
