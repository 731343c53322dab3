"""Tenancy/permission matrix for /api/organizations and /api/config (bifrost_site.testing.matrix)."""

import uuid

import pytest

from bifrost_site.testing.matrix import ACTIVITY, OWNED, Extra, ResourceMatrix
from orgs.tests.factories import ConfigFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


class TestOrganizationMatrix(ResourceMatrix):
    list_url = "/api/organizations"
    detail_url = "/api/organizations/{lookup}"
    scope_mode = ACTIVITY
    global_rows = False  # an organization is its own scope
    count_scope = "global"
    max_list_queries = 4

    def make(self, organization):
        return organization

    def make_list_row(self, organization):
        return OrganizationFactory()

    def update_payload(self, obj):
        return {"name": "Renamed", "domain": f"{uuid.uuid4().hex[:8]}.example"}


class TestConfigMatrix(ResourceMatrix):
    list_url = "/api/config"
    detail_url = "/api/config/{lookup}"
    lookup = "key"
    scope_mode = OWNED
    max_list_queries = 4
    extras = (Extra("/api/config/{lookup}/effective"),)

    def make(self, organization):
        return ConfigFactory(organization=organization)

    def create_payload(self, organization):
        return {"key": f"k_{uuid.uuid4().hex[:10]}", "value": "v", "config_type": "string"}

    def update_payload(self, obj):
        return {"key": obj.key, "value": "changed", "config_type": "string"}
