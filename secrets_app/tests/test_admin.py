"""Admin pages for secrets: the value is write-only and every change is audited."""

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditLog
from orgs.tests.factories import ConfigFactory
from secrets_app.models import Secret
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_change_page_never_shows_the_value(browser):
    secret = SecretFactory(organization=None, name="admin_visible", value="the-admin-must-not-see-this")
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM secrets_app_secret WHERE id = %s", [secret.id])
        (ciphertext,) = cursor.fetchone()
    for url in (
        f"/admin/secrets_app/secret/{secret.pk}/change/",
        "/admin/secrets_app/secret/",
        f"/admin/secrets_app/secret/{secret.pk}/history/",
    ):
        response = browser.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "the-admin-must-not-see-this" not in html
        assert ciphertext not in html
    assert "admin_visible" in browser.get(f"/admin/secrets_app/secret/{secret.pk}/change/").content.decode()


def test_add_and_change_are_audited_without_the_value(browser, org):
    response = browser.post(
        "/admin/secrets_app/secret/add/",
        {"name": "from_admin", "description": "d", "organization": str(org.pk), "value": "admin-typed-value"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    secret = Secret.objects.get(name="from_admin")
    assert secret.value == "admin-typed-value" and secret.organization_id == org.pk
    # Empty value on change keeps the current one.
    response = browser.post(
        f"/admin/secrets_app/secret/{secret.pk}/change/",
        {"name": "from_admin", "description": "changed", "organization": str(org.pk), "value": ""},
    )
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.value == "admin-typed-value" and secret.description == "changed"
    actions = list(AuditLog.objects.filter(resource_id=str(secret.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["secret.create", "secret.update"]
    for entry in AuditLog.objects.all():
        assert "admin-typed-value" not in str(entry.changes)


def test_referenced_secret_cannot_be_deleted_in_the_admin(browser):
    secret = SecretFactory(organization=None, name="in_use")
    ConfigFactory(organization=None, key="uses_it", config_type="secret_ref", value="in_use")
    assert browser.get(f"/admin/secrets_app/secret/{secret.pk}/delete/").status_code == 403
    free = SecretFactory(organization=None, name="free")
    assert browser.post(f"/admin/secrets_app/secret/{free.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Secret.objects.filter(pk=free.pk).exists()
    assert AuditLog.objects.filter(action="secret.delete", resource_id=str(free.pk)).exists()


def test_adding_a_secret_without_a_value_is_a_form_error_not_a_500(browser):
    response = browser.post("/admin/secrets_app/secret/add/", {"name": "api_key", "description": "", "value": ""})
    assert response.status_code == 200
    assert "A value is required for a new secret." in response.content.decode()
    assert not Secret.objects.exists()


def test_adding_a_secret_with_a_value_saves_it(browser):
    response = browser.post("/admin/secrets_app/secret/add/", {"name": "api_key", "value": "s3cret-value"})
    assert response.status_code == 302
    assert Secret.objects.get(name="api_key").value == "s3cret-value"


def test_changing_a_secret_with_the_value_left_empty_keeps_it(browser):
    secret = SecretFactory(organization=None, name="api_key", value="kept-value")
    response = browser.post(
        f"/admin/secrets_app/secret/{secret.pk}/change/", {"name": "api_key", "description": "new", "value": ""}
    )
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.value == "kept-value" and secret.description == "new"
