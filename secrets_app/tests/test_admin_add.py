"""Adding a secret in the admin with the value left empty is a form error, not a 500 (issue 18 item 13)."""

import pytest
from django.test import Client

from secrets_app.models import Secret
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


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
