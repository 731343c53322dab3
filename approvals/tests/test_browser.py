"""/approvals/ in headless Chromium at 1400 and 375 px (axe, overflow, CSP, screenshots), and an approver
approving one run and rejecting another with a comment through the page."""

import pytest

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from approvals.models import Approval, ApprovalStatus
from approvals.tests.factories import ApprovalFactory
from bifrost_site.testing.browser import headless_chromium, live_daphne, page_wait
from bifrost_site.tests.test_portal_browser import WAIT, check_page, sign_in
from executions.models import Execution, ExecutionStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_approver_decides_on_the_page_which_passes_axe_and_fits_a_phone(org, member):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    role = RoleFactory(organization=org, name="Change approvers")
    approver = UserFactory(organization=org, email="approver@contoso.test", name="Ada Approver")
    UserRoleFactory(user=approver, role=role)
    approve_me = ApprovalFactory(
        organization=org,
        approver_roles=[role],
        execution__workflow_name="disable_mfa_for_user",
        execution__executed_by=member,
        execution__parameters={"user": "ceo@contoso.test", "reason": "lost phone, travelling"},
    )
    reject_me = ApprovalFactory(
        organization=org,
        approver_roles=[role],
        execution__workflow_name="delete_mailbox",
        execution__executed_by=member,
        execution__parameters={"mailbox": "shared-finance@contoso.test"},
    )
    own = ApprovalFactory(organization=org, approver_roles=[role], execution__executed_by=approver)
    problems = []
    with live_daphne() as base_url, headless_chromium() as driver:
        sign_in(driver, base_url, approver)
        problems += check_page(driver, base_url, "/approvals/", "approvals", f"#approval-{approve_me.id}")
        assert driver.find_elements(By.ID, f"approval-{own.id}") == []  # never their own request
        driver.set_window_size(1400, 1000)
        driver.get(f"{base_url}/approvals/")
        card = driver.find_element(By.ID, f"approval-{approve_me.id}")
        card.find_element(By.TAG_NAME, "textarea").send_keys("Verified with the CEO by phone")
        card.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".message-success")))
        card = driver.find_element(By.ID, f"approval-{reject_me.id}")
        card.find_element(By.TAG_NAME, "textarea").send_keys("Finance still uses it")
        card.find_element(By.CSS_SELECTOR, "button[value=reject]").click()
        page_wait(driver, WAIT).until(
            lambda d: "Rejected the run of delete_mailbox" in d.find_element(By.CSS_SELECTOR, ".messages").text
        )
        driver.delete_all_cookies()
        sign_in(driver, base_url, member)
        problems += check_page(driver, base_url, "/approvals/", "approvals-requester", "#requested-table")
        problems += check_page(
            driver, base_url, f"/executions/{reject_me.execution_id}/", "approvals-run", "#approval-state"
        )
    assert problems == [], "\n".join(problems)
    approved = Approval.objects.get(id=approve_me.id)
    assert approved.status == ApprovalStatus.APPROVED and approved.comment == "Verified with the CEO by phone"
    assert Approval.objects.get(id=reject_me.id).comment == "Finance still uses it"
    assert Execution.objects.get(id=reject_me.execution_id).status == ExecutionStatus.REJECTED
