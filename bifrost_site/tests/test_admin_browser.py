"""The admin console in headless Chromium at 1400 px (issue 21 item 1): every changelist fits the window
(no sideways scroll for its columns), with rows as long as real ones."""

from __future__ import annotations

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD
from bifrost_site.testing.admin_models import instance, registered_models
from bifrost_site.testing.browser import headless_chromium, live_daphne, page_wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT = 30
WIDTH = 1400
LONG = "A long description that a real administrator would write about this object " * 3


def _realistic_rows(admin_user):
    """Rows with the lengths real data has: UUIDs, long workflow names and error messages, e-mail addresses."""
    from audit.tests.factories import AuditLogFactory
    from executions.tests.factories import ExecutionFactory
    from forms_app.tests.factories import FormFactory
    from orgs.tests.factories import ConfigFactory, OrganizationFactory
    from workflows.tests.factories import WorkflowFactory

    org = OrganizationFactory(name="Contoso Pharmaceuticals International", domain="contoso-pharma.example.com")
    WorkflowFactory(
        name="onboard_user_with_mailbox_and_licences",
        description=LONG,
        category="Users and Identity",
        is_available=False,
        import_error="ModuleNotFoundError: No module named 'msgraph_beta_client_for_tests'",
    )
    ExecutionFactory(
        workflow_name="onboard_user_with_mailbox_and_licences",
        organization=org,
        executed_by_name="someone.with.a.long.name@contoso-pharma.example.com",
        status="Failed",
        error_type="UserError",
        error_message="The mailbox could not be created because the licence pool is empty " * 3,
    )
    FormFactory(name="Onboard a new employee with mailbox and licences", description=LONG, organization=org)
    ConfigFactory(key="microsoft_graph_tenant_identifier", value="contoso-pharma.onmicrosoft.com", organization=org)
    AuditLogFactory(actor=admin_user, organization=org)


def _overflow(driver) -> int:
    """How many pixels the page, or the changelist's table in its own scroll box, is wider than its room
    (0: no sideways scroll)."""
    return driver.execute_script(
        """
        const page = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth;
        const box = document.querySelector("#changelist .results");
        return Math.max(page, box ? box.scrollWidth - box.clientWidth : 0);
        """
    )


def test_every_changelist_fits_1400_px(admin_user, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    models = registered_models()
    for model in models:
        instance(model)
    _realistic_rows(admin_user)
    too_wide = {}
    with live_daphne() as base_url, headless_chromium() as driver:
        driver.set_window_size(WIDTH, 900)
        driver.get(f"{base_url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(admin_user.email)
        driver.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        page_wait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "user-tools")))
        for page in ["/admin/", *(f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in models)]:
            driver.get(base_url + page)
            page_wait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "content")))
            name = page.strip("/").replace("/", "_") or "index"
            driver.save_screenshot(str(tmp_path / f"{name}.png"))
            if (extra := _overflow(driver)) > 0:
                too_wide[page] = extra
    assert not too_wide, f"changelists wider than {WIDTH} px (page: extra px; screenshots in {tmp_path}): {too_wide}"
