"""Tenancy/permission matrix for /api/audit-logs (bifrost_site.testing.matrix)."""

import pytest

from audit.tests.factories import AuditLogFactory
from bifrost_site.testing.matrix import ACTIVITY, ResourceMatrix

pytestmark = pytest.mark.django_db


class TestAuditLogMatrix(ResourceMatrix):
    list_url = "/api/audit-logs"
    detail_url = "/api/audit-logs/{lookup}"
    scope_mode = ACTIVITY
    list_methods = ("GET",)
    detail_methods = ("GET",)
    max_list_queries = 4

    def make(self, organization):
        return AuditLogFactory(organization=organization)
