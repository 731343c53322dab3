"""The run page's approval card, live, in headless Chromium on the real worker (DESIGN §16, §18): the requester
opens a run that waits for approval; another user approves it through the API (another session) and the card
shows who approved, the comment and when, then the run's Success, without a reload; another run rejected by a
colleague shows Rejected the same way. The page passes axe and fits 375 px before and after the update."""

import pytest

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from approvals import services
from bifrost_site.testing.accessibility import axe_violations, overflows
from bifrost_site.testing.browser import headless_chromium, live_daphne, page_wait
from bifrost_site.tests.test_portal_browser import SHOTS, WAIT, check_page, sign_in
from conftest import client_for
from executions.models import ExecutionStatus, Trigger
from executions.services import execution_start

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _submit(org, user, mailbox):
    return execution_start(
        workflow_name="t_needs_approval",  # approval={"approver_roles": ["Change approvers"], ...}
        parameters={"mailbox": mailbox, "reason": "lost phone"},
        trigger=Trigger.MANUAL,
        organization=org,
        user=user,
    ).execution


def test_the_run_page_shows_the_decision_live(prefork_worker, discovered, org):
    from selenium.webdriver.common.by import By

    role = RoleFactory(organization=org, name="Change approvers")
    requester = UserFactory(organization=org, email="requester@contoso.test")
    approver = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=approver, role=role)
    approved_run = _submit(org, requester, "ceo@contoso.test")
    rejected_run = _submit(org, requester, "shared-finance@contoso.test")
    assert approved_run.status == ExecutionStatus.AWAITING_APPROVAL

    def card_status(driver):
        return driver.find_element(By.ID, "approval-state").get_attribute("data-approval-status")

    def open_live(driver, base_url, execution):
        driver.get(f"{base_url}/executions/{execution.id}/")
        wait = page_wait(driver, WAIT)
        wait.until(lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "live")
        assert card_status(driver) == "pending"
        assert driver.find_element(By.ID, "status").get_attribute("data-status") == "AwaitingApproval"
        driver.execute_script("window.__sameDocument = true;")  # gone if the page reloads
        return wait

    problems = []
    with live_daphne() as base_url, headless_chromium() as driver:
        sign_in(driver, base_url, requester)
        problems += check_page(
            driver, base_url, f"/executions/{approved_run.id}/", "approval-live-pending", "#approval-state"
        )

        driver.set_window_size(1400, 1000)
        wait = open_live(driver, base_url, approved_run)
        response = client_for(approver).post(
            f"/api/approvals/{approved_run.approval.id}/approve",
            {"comment": "Verified with the CEO by phone"},
            format="json",
        )
        assert response.status_code == 200, response.content
        wait.until(lambda d: card_status(d) == "approved")
        card = driver.find_element(By.ID, "approval-state")
        assert "approver@contoso.test" in card.find_element(By.ID, "approval-decided-by").text
        assert card.find_element(By.ID, "approval-comment").text == "Verified with the CEO by phone"
        decided_at = card.find_element(By.CSS_SELECTOR, "#approval-decided-at time")
        assert decided_at.get_attribute("datetime") and "UTC" not in decided_at.text  # shown in the browser's zone
        assert card.find_elements(By.ID, "approval-cancel-form") == []
        wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-status") == ExecutionStatus.SUCCESS)
        assert driver.execute_script("return window.__sameDocument === true;"), "the page reloaded"
        for width in (1400, 375):
            driver.set_window_size(width, 1000)
            problems += [f"approved @{width}: {v}" for v in axe_violations(driver)]
            problems += [f"approved @{width}: overflow {o}" for o in overflows(driver)]
            height = driver.execute_script("return document.body.scrollHeight") + 120
            driver.set_window_size(width, max(1000, height))
            driver.save_screenshot(str(SHOTS / f"approval-live-approved-{width}.png"))

        driver.set_window_size(1400, 1000)
        wait = open_live(driver, base_url, rejected_run)
        services.approval_reject(approval_id=rejected_run.approval.id, user=approver, comment="Finance still uses it")
        wait.until(lambda d: card_status(d) == "rejected")
        wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-status") == ExecutionStatus.REJECTED)
        card = driver.find_element(By.ID, "approval-state")
        assert card.find_element(By.ID, "approval-comment").text == "Finance still uses it"
        assert "The run was rejected" in card.text
        # the log line saying who rejected arrives before the final status, so the live log shows it too
        wait.until(
            lambda d: (
                "Rejected by approver@contoso.test: Finance still uses it" in d.find_element(By.ID, "log-pane").text
            )
        )
        assert driver.execute_script("return window.__sameDocument === true;"), "the page reloaded"
        problems += [f"rejected: {v}" for v in axe_violations(driver)]
        driver.save_screenshot(str(SHOTS / "approval-live-rejected-1400.png"))
    assert problems == [], "\n".join(problems)
