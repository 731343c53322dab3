"""`GET /api/` is the API root the README names: a map of the endpoints (issue 18 item 15)."""

import pytest
from rest_framework.test import APIClient

from conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_the_endpoints_for_a_platform_admin(admin_client):
    response = admin_client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    for route in (
        "organizations",
        "users",
        "roles",
        "config",
        "secrets",
        "oauth/connections",
        "workflows",
        "executions",
        "forms",
        "schedules",
        "audit-logs",
        "workflow-keys",
        "metrics",
    ):
        assert body[route] == f"http://testserver/api/{route}", route
    assert body["schema"] == "http://testserver/api/schema"
    assert body["docs"] == "http://testserver/docs"
    assert not [route for route in body if "<" in route or route.endswith("/")]  # no detail paths, no slashes
    for route, url in body.items():  # every listed GET endpoint answers (POST-only ones say 405)
        accept = "text/html" if route == "docs" else "application/json"
        answer = admin_client.get(url, HTTP_ACCEPT=accept).status_code
        assert answer in (200, 405), f"{route}: {answer}"


def test_the_api_root_refuses_anonymous_callers():
    response = APIClient().get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401


def test_the_api_root_is_for_platform_admins_only(member):
    response = client_for(member).get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
