import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_renders_and_documents_auth(admin_client):
    response = admin_client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/auth/login" in schema["paths"]
    assert "/health" in schema["paths"]


def test_swagger_ui_loads():
    response = APIClient().get("/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_admin_login_page_loads():
    assert APIClient().get("/admin/login/").status_code == 200


def test_admin_index_and_every_changelist_load_for_a_platform_admin(admin_user):
    from django.contrib import admin
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


def test_admin_refuses_org_users(member):
    from django.test import Client

    client = Client()
    client.force_login(member)
    assert client.get("/admin/").status_code == 302
