"""The audit list in the admin (issue 21 item 7): each entry shows its resource's name beside its id, the
names read in bulk for the page, and the list is searchable by the resource's name."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.tests.factories import AuditLogFactory
from orgs.tests.factories import OrganizationFactory
from secrets_app.models import Secret

pytestmark = pytest.mark.django_db

AUDIT = "/admin/audit/auditlog/"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_entries_show_the_resources_name_beside_its_id(browser, org, admin_user):
    secret = Secret.objects.create(name="graph_client_secret", value="x", organization=org)
    AuditLogFactory(organization=org, resource_type="organization", resource_id=str(org.id))
    AuditLogFactory(organization=org, action="secret.update", resource_type="secret", resource_id=str(secret.id))
    AuditLogFactory(organization=None, action="user.update", resource_type="user", resource_id=str(admin_user.id))
    AuditLogFactory(organization=None, action="thing.update", resource_type="thing", resource_id="not-a-uuid")
    gone = AuditLogFactory(organization=None, action="secret.delete", resource_type="secret", resource_id=str(org.id))
    page = browser.get(AUDIT).content.decode()
    assert f"Contoso ({org.id})" in page
    assert f"graph_client_secret ({secret.id})" in page
    assert f"root@msp.test ({admin_user.id})" in page
    assert "not-a-uuid" in page
    assert f"<td class=\"field-resource\">{gone.resource_id}</td>" in page  # a deleted resource keeps its id
    change = browser.get(f"{AUDIT}{gone.pk}/change/")
    assert change.status_code == 200


def test_names_are_read_once_per_page_not_once_per_row(browser):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(AUDIT).status_code == 200
        return len(captured)

    for _ in range(3):
        AuditLogFactory(organization=OrganizationFactory())
    few = queries()
    for _ in range(20):
        AuditLogFactory(organization=OrganizationFactory())
    assert queries() == few


def test_the_list_is_searchable_by_the_resources_name(browser, org, other_org):
    secret = Secret.objects.create(name="graph_client_secret", value="x", organization=org)
    AuditLogFactory(organization=org, action="secret.update", resource_type="secret", resource_id=str(secret.id))
    AuditLogFactory(organization=other_org, resource_type="organization", resource_id=str(other_org.id))
    response = browser.get(AUDIT, {"q": "graph_client"})
    assert [entry.resource_id for entry in response.context["cl"].result_list] == [str(secret.id)]
    response = browser.get(AUDIT, {"q": "Fabrikam"})
    assert {entry.resource_id for entry in response.context["cl"].result_list} == {str(other_org.id)}
