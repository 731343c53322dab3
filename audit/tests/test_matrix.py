"""Tenancy/permission matrix for /api/audit-logs (bifrost_site.testing.matrix)."""

import pytest

from audit.tests.factories import AuditLogFactory
from bifrost_site.testing.matrix import ACTIVITY, Extra, ResourceMatrix

pytestmark = pytest.mark.django_db


class TestAuditLogMatrix(ResourceMatrix):
    list_url = "/api/audit-logs"
    detail_url = "/api/audit-logs/{lookup}"
    scope_mode = ACTIVITY
    list_methods = ("GET",)
    detail_methods = ("GET",)
    max_list_queries = 4
    extras = (
        # the signed export and its public key: platform admins only (ORG users 403, anonymous 401)
        Extra("/api/audit-logs/export", methods=("GET",), detail=False),
        Extra("/api/audit-logs/public-key", methods=("GET",), detail=False),
    )

    def make(self, organization):
        return AuditLogFactory(organization=organization)
