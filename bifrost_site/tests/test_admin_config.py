"""Config in the admin (issue 21 item 7): the value edited with an input of its type (text, number,
checkbox, JSON, a secret picker), validated by the API's rules, audited."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from orgs.models import Config
from orgs.tests.factories import ConfigFactory
from secrets_app.models import Secret

pytestmark = pytest.mark.django_db

ADD = "/admin/orgs/config/add/"


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _post(browser, url, **data):
    fields = {"key": "k", "config_type": "string", "description": "", "organization": ""}
    return browser.post(url, {**fields, **data})


@pytest.mark.parametrize(
    ("config_type", "field", "posted", "stored"),
    [
        ("string", "value_string", "contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
        ("string", "value_string", "", ""),
        ("int", "value_int", "42", 42),
        ("bool", "value_bool", "on", True),
        ("bool", None, None, False),  # an unticked box
        ("json", "value_json", '{"regions": ["eu", "us"]}', {"regions": ["eu", "us"]}),
    ],
)
def test_each_type_is_entered_with_its_own_input(browser, config_type, field, posted, stored):
    data = {"key": f"key_{config_type}", "config_type": config_type}
    if field:
        data[field] = posted
    response = _post(browser, ADD, **data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = Config.objects.get(key=f"key_{config_type}")
    assert entry.value == stored and entry.config_type == config_type
    assert AuditLog.objects.filter(action="config.create", resource_id=str(entry.pk)).exists()


def test_a_secret_ref_is_picked_from_the_secrets_visible_in_the_entrys_scope(browser, org, other_org):
    Secret.objects.create(name="graph_secret", value="s3cret", organization=None)
    Secret.objects.create(name="contoso_only", value="s3cret", organization=org)
    page = browser.get(ADD).content.decode()
    assert '<option value="graph_secret">graph_secret (GLOBAL)</option>' in page
    assert '<option value="contoso_only">contoso_only (Contoso)</option>' in page
    assert "s3cret" not in page
    ok = _post(browser, ADD, key="ref", config_type="secret_ref", value_secret_ref="contoso_only", organization=org.pk)
    assert ok.status_code == 302
    assert Config.objects.get(key="ref").value == "contoso_only"
    refused = _post(
        browser, ADD, key="ref2", config_type="secret_ref", value_secret_ref="contoso_only", organization=other_org.pk
    )
    assert refused.status_code == 200
    assert "contoso_only" in str(refused.context["adminform"].form.errors["value_secret_ref"])


def test_a_wrong_value_is_explained_on_its_input(browser):
    response = _post(browser, ADD, key="n", config_type="int", value_int="many")
    assert response.status_code == 200
    assert "Enter a whole number." in str(response.context["adminform"].form.errors["value_int"])
    response = _post(browser, ADD, key="j", config_type="json", value_json="{not json")
    assert "Enter a valid JSON." in str(response.context["adminform"].form.errors["value_json"])
    response = _post(browser, ADD, key="i", config_type="int")
    assert "Enter a value." in str(response.context["adminform"].form.errors["value_int"])


def test_the_change_page_shows_the_value_in_its_own_input_and_the_switching_script(browser):
    entry = ConfigFactory(key="retries", config_type="int", value=3, organization=None)
    page = browser.get(f"/admin/orgs/config/{entry.pk}/change/").content.decode()
    assert 'name="value_int" value="3"' in page
    assert "bifrost_site/admin/config_value.js" in page and 'data-config-type="select"' in page
    assert "null</textarea>" not in page  # the unused JSON input is empty, never the text null
    response = _post(browser, f"/admin/orgs/config/{entry.pk}/change/", key="retries", config_type="int", value_int="5")
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.value == 5
    assert AuditLog.objects.filter(action="config.update", resource_id=str(entry.pk)).exists()
