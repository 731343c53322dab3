"""Tenancy/permission matrix for GET /api/usage (platform admins only, DESIGN §20)."""

import pytest

from bifrost_site.testing.matrix import PLATFORM, Extra, ResourceMatrix
from executions.tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


class TestUsageMatrix(ResourceMatrix):
    list_url = None
    detail_url = None
    scope_mode = PLATFORM
    extras = (Extra("/api/usage", detail=False),)

    def make(self, organization):
        return ExecutionFactory(organization=organization, executed_by=None)
