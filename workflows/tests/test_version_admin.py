"""The read-only WorkflowVersion admin (DESIGN §20, §18): list, search, the source page, the runs' link."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from executions.models import Execution
from executions.tests.factories import ExecutionFactory
from workflows.tests.factories import WorkflowFactory, WorkflowVersionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:workflows_workflowversion_changelist")


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def list_queries(browser) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(CHANGELIST)
    assert response.status_code == 200
    return len(queries)


def test_the_list_shows_workflow_hash_commit_and_first_seen_in_a_fixed_number_of_queries(browser):
    WorkflowVersionFactory(git_commit="0123456789abcdef0123")
    WorkflowVersionFactory()
    few = list_queries(browser)
    for _ in range(6):
        WorkflowVersionFactory(git_commit="fedcba9876543210")
    assert list_queries(browser) == few
    html = browser.get(CHANGELIST).content.decode()
    assert "0123456789ab" in html and "fedcba987654" in html


def test_search_by_hash_or_commit_prefix_and_filter_by_source(browser):
    from_git = WorkflowVersionFactory(git_commit="abc123def4567890")
    local = WorkflowVersionFactory()
    found = browser.get(CHANGELIST, {"q": local.source_hash[:12]}).context["cl"].result_list
    assert list(found) == [local]
    found = browser.get(CHANGELIST, {"q": "abc123"}).context["cl"].result_list
    assert list(found) == [from_git]
    assert list(browser.get(CHANGELIST, {"from_git": "yes"}).context["cl"].result_list) == [from_git]
    assert list(browser.get(CHANGELIST, {"from_git": "no"}).context["cl"].result_list) == [local]


def test_the_page_shows_the_source_escaped_and_links_to_the_runs_of_that_version(browser):
    from secrets_app.tests.factories import SecretFactory

    secret = SecretFactory(value="pasted-value-123456")
    workflow = WorkflowFactory(name="pinned")
    version = WorkflowVersionFactory(
        workflow=workflow, source=f'def run():\n    return "<script>alert(1)</script>" + "{secret.value}"\n'
    )
    other = WorkflowVersionFactory(workflow=workflow)
    ran = ExecutionFactory(workflow_name="pinned", executed_by=None)
    elsewhere = ExecutionFactory(workflow_name="pinned", executed_by=None)
    Execution.objects.filter(id=ran.id).update(workflow_version=version)
    Execution.objects.filter(id=elsewhere.id).update(workflow_version=other)

    response = browser.get(reverse("admin:workflows_workflowversion_change", args=[version.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "pasted-value-123456" not in html and "***" in html  # masked as the source API masks it
    assert 'class="bifrost-source"' in html and "monospace" in html
    assert 'name="_save"' not in html  # view only
    runs = reverse("admin:executions_execution_changelist") + f"?workflow_version__exact={version.pk}"
    assert runs in html.replace("&amp;", "&")
    listed = browser.get(runs)
    assert listed.status_code == 200
    assert [e.id for e in listed.context["cl"].result_list] == [ran.id]


def test_versions_are_never_added_changed_or_deleted_here(browser):
    version = WorkflowVersionFactory()
    source = version.source
    assert browser.get(reverse("admin:workflows_workflowversion_add")).status_code == 403
    assert browser.post(reverse("admin:workflows_workflowversion_add"), {}).status_code == 403
    change = reverse("admin:workflows_workflowversion_change", args=[version.pk])
    assert browser.post(change, {"source": "changed", "source_hash": "x"}).status_code == 403
    delete = reverse("admin:workflows_workflowversion_delete", args=[version.pk])
    assert browser.get(delete).status_code == 403
    assert browser.post(delete, {"post": "yes"}).status_code == 403
    version.refresh_from_db()
    assert version.source == source
    html = browser.get(CHANGELIST).content.decode()
    assert "delete_selected" not in html and "Add workflow version" not in html


def test_only_platform_admins_see_versions(member):
    version = WorkflowVersionFactory()
    client = Client()
    client.force_login(member)
    assert client.get(CHANGELIST).status_code == 302  # to the admin sign-in
    assert client.get(reverse("admin:workflows_workflowversion_change", args=[version.pk])).status_code == 302
