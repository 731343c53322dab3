"""The log viewer in headless Chromium, served by daphne with the real Redis channel layer.

The test plays the worker: it persists ExecutionLog rows and broadcasts them with
`events.emit_log_lines`, then finishes the execution and broadcasts the status.
"""

import pytest
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD
from bifrost_site.testing.browser import headless_chromium, live_daphne, login_page_sign_in, page_wait
from executions import events
from executions.models import ExecutionLog, ExecutionStatus
from executions.tests.factories import ExecutionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds; waits end as soon as the condition holds


def write_lines(execution, levels, start):
    lines = [
        ExecutionLog.objects.create(
            execution=execution,
            sequence=start + offset,
            level=level,
            message=f"{level} message {start + offset}",
            timestamp=timezone.now(),
        )
        for offset, level in enumerate(levels)
    ]
    events.emit_log_lines(execution.id, lines)
    return lines


def test_log_viewer_follows_a_running_execution(member, org):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    execution = ExecutionFactory(
        organization=org,
        executed_by=member,
        workflow_name="onboard_user",
        status=ExecutionStatus.RUNNING,
        parameters={"email": "new.hire@contoso.test"},
        completed_at=None,
        duration_ms=None,
    )
    write_lines(execution, ["info"], start=1)  # stored before the page opens: arrives as backlog

    with live_daphne() as base_url, headless_chromium() as driver:
        wait = page_wait(driver, WAIT)
        driver.get(f"{base_url}/executions/{execution.id}/")
        # Not signed in: the session login page, then back to the viewer.
        wait.until(ec.presence_of_element_located((By.ID, "login-form")))
        login_page_sign_in(driver, member.email, DEFAULT_PASSWORD, timeout=WAIT)
        wait.until(ec.presence_of_element_located((By.ID, "log-pane")))
        assert driver.current_url == f"{base_url}/executions/{execution.id}/"
        wait.until(lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "live")

        def sequences(d):
            return [int(e.get_attribute("data-sequence")) for e in d.find_elements(By.CSS_SELECTOR, ".log-line")]

        wait.until(lambda d: sequences(d) == [1])

        # Live lines, including ones an ORG user must not see.
        write_lines(execution, ["info", "debug", "warning", "traceback", "error"], start=2)
        wait.until(lambda d: sequences(d) == [1, 2, 4, 6])
        text = driver.find_element(By.ID, "log-pane").text
        assert "warning message 4" in text and "error message 6" in text
        assert "debug message" not in text and "traceback message" not in text
        warning = driver.find_element(By.CSS_SELECTOR, '.log-line[data-sequence="4"]')
        assert "level-warning" in warning.get_attribute("class")

        # The worker finishes: the page stops following and shows the outcome.
        write_lines(execution, ["info"], start=7)
        execution.status = ExecutionStatus.SUCCESS
        execution.completed_at = timezone.now()
        execution.duration_ms = 1234
        execution.result = {"created": "new.hire@contoso.test"}
        execution.result_type = "json"
        execution.save()
        events.emit_status(execution)

        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-execution-complete") == "true")
        wait.until(lambda d: sequences(d) == [1, 2, 4, 6, 7])
        assert driver.find_element(By.ID, "status").text == "Succeeded"
        assert driver.find_element(By.ID, "duration").text == "1.2 s"
        assert driver.find_element(By.ID, "connection").get_attribute("data-state") == "done"
        assert '"created": "new.hire@contoso.test"' in driver.find_element(By.ID, "result-json").text
        driver.save_screenshot("/tmp/bifrost_log_viewer.png")


@pytest.mark.worker
def test_log_viewer_follows_a_real_run_on_the_worker(prefork_worker, discovered, member, org):
    """A workflow logging slowly on the real worker: lines arrive while it runs, then the completion."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    from executions.services import execution_start

    n = 30
    with live_daphne() as base_url, headless_chromium() as driver:
        wait = page_wait(driver, WAIT)
        driver.get(f"{base_url}/executions/00000000-0000-0000-0000-000000000000/")
        wait.until(ec.presence_of_element_located((By.ID, "login-form")))
        login_page_sign_in(driver, member.email, DEFAULT_PASSWORD, timeout=WAIT)
        wait.until(lambda d: "login" not in d.current_url)

        execution = execution_start(
            workflow_name="t_slow_lines",
            parameters={"n": n, "delay": 0.25},
            trigger="manual",
            organization=org,
            user=member,
        ).execution
        driver.get(f"{base_url}/executions/{execution.id}/")
        wait.until(ec.presence_of_element_located((By.ID, "log-pane")))

        def slow_lines(d):
            return [e.text for e in d.find_elements(By.CSS_SELECTOR, ".log-line") if "slow line" in e.text]

        # some lines are on the page while the run is still going
        wait.until(lambda d: 0 < len(slow_lines(d)) < n and d.find_element(By.ID, "status").text == "Running")
        assert driver.find_element(By.ID, "connection").get_attribute("data-state") == "live"
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-execution-complete") == "true")
        lines = slow_lines(driver)
        assert len(lines) == n and all(f"slow line {i}" in line for i, line in enumerate(lines))
        assert driver.find_element(By.ID, "status").text == "Succeeded"
        # it started after the page loaded: the live status filled in its start time
        assert driver.find_element(By.CSS_SELECTOR, "#started-at time").get_attribute("datetime")
        assert '"lines": 30' in driver.find_element(By.ID, "result-json").text
        driver.save_screenshot("/tmp/bifrost_log_viewer_live.png")
        sequences = [int(e.get_attribute("data-sequence")) for e in driver.find_elements(By.CSS_SELECTOR, ".log-line")]
        assert sequences == sorted(set(sequences))
