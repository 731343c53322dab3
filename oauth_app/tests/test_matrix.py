"""Tenancy/permission matrix for /api/oauth/connections (+ authorize/refresh) and /api/oauth/refresh-job."""

import uuid

import pytest

from bifrost_site.testing.matrix import OWNED, PLATFORM, Extra, ResourceMatrix
from oauth_app.tests.factories import OAuthConnectionFactory, OAuthTokenFactory

pytestmark = pytest.mark.django_db


class TestOAuthConnectionMatrix(ResourceMatrix):
    list_url = "/api/oauth/connections"
    detail_url = "/api/oauth/connections/{lookup}"
    lookup = "name"
    scope_mode = OWNED
    max_list_queries = 4
    extras = (
        Extra("/api/oauth/connections/{lookup}/authorize", methods=("POST",)),
        Extra("/api/oauth/connections/{lookup}/refresh", methods=("POST",)),
    )

    def make(self, organization):
        return OAuthConnectionFactory(organization=organization)

    def make_list_row(self, organization):
        # with a token: the list must not query per connection for it
        return OAuthTokenFactory(connection__organization=organization).connection

    def create_payload(self, organization):
        return {
            "name": f"conn_{uuid.uuid4().hex[:10]}",
            "flow_type": "authorization_code",
            "client_id": "client",
            "client_secret": "secret",
            "authorization_url": "http://127.0.0.1:9/authorize",
            "token_url": "http://127.0.0.1:9/token",
            "scopes": ["read"],
        }

    def update_payload(self, obj):
        return {"description": "changed"}


class TestOAuthRefreshJobMatrix(ResourceMatrix):
    """The refresh task's status: platform-wide, admins only."""

    scope_mode = PLATFORM
    extras = (Extra("/api/oauth/refresh-job", detail=False),)
