"""Tenancy/permission matrix for /api/secrets (bifrost_site.testing.matrix); lookup by name."""

import uuid

import pytest

from bifrost_site.testing.matrix import OWNED, ResourceMatrix
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db


class TestSecretMatrix(ResourceMatrix):
    list_url = "/api/secrets"
    detail_url = "/api/secrets/{lookup}"
    lookup = "name"
    scope_mode = OWNED
    max_list_queries = 4

    def make(self, organization):
        return SecretFactory(organization=organization)

    def create_payload(self, organization):
        return {"name": f"new_{uuid.uuid4().hex[:10]}", "value": "s3cr3t"}

    def update_payload(self, obj):
        return {"value": "changed"}
