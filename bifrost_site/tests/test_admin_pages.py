"""No admin page answers 500 (issue 18 item 13, issue 21 item 8, DESIGN §18).

Generated from the admin site's registry: for every registered model, as a platform admin, the
changelist (plain and searched), the add page, the change, history and delete pages of one instance,
and the add form submitted empty. 200, 302 and 403 are answers; a form with errors is a 200.
An instance is built by bifrost_site/testing/admin_models.py (the app's factory, or a builder there);
a newly registered model without either fails the test by name.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from bifrost_site.testing.admin_models import instance as _instance
from bifrost_site.testing.admin_models import registered_models

pytestmark = pytest.mark.django_db

ANSWERS = {200, 302, 403}


REGISTERED = registered_models()


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def browser(admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


def _get(browser, url: str) -> int:
    response = browser.get(url)
    assert response.status_code in ANSWERS, f"GET {url} answered {response.status_code}"
    return response.status_code


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label_lower)
def test_every_admin_page_of_every_registered_model_answers_without_a_500(browser, model):
    model_admin = admin.site._registry[model]
    obj = _instance(model)
    _get(browser, _url(model, "changelist"))
    if model_admin.search_fields:
        _get(browser, _url(model, "changelist") + "?q=a%20b")
    _get(browser, _url(model, "add"))
    for view in ("change", "history", "delete"):
        _get(browser, _url(model, view, obj.pk))


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label_lower)
def test_every_add_form_submitted_empty_answers_without_a_500(browser, model):
    before = model._default_manager.count()
    response = browser.post(_url(model, "add"), {})
    assert response.status_code in ANSWERS, f"empty add of {model._meta.label} answered {response.status_code}"
    if response.status_code == 200:  # the form again, with its errors; nothing saved
        assert model._default_manager.count() == before


def test_every_registered_model_can_be_built(db):
    """The builders and factories cover the registry (a new ModelAdmin needs one or the other)."""
    for model in REGISTERED:
        assert _instance(model).pk is not None


# --- branding and order (issue 21 item 1) --------------------------------------------------------


def test_the_admin_is_branded_and_its_sections_have_human_names_in_working_order(browser):
    response = browser.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Bifrost administration | Bifrost administration</title>" in html
    assert "Django administration" not in html and "Django site admin" not in html
    sections = [app["name"] for app in response.context["app_list"]]
    assert sections == [
        "Organizations",
        "Accounts",
        "Workflows",
        "Executions",
        "Forms",
        "Secrets",
        "OAuth",
        "Audit",
        "Schedules",
    ]
    for raw in ("FORMS_APP", "Forms_App", "Oauth_App", "Secrets_App", "Periodic Tasks", "Token Blacklist"):
        assert raw not in html
    # A section's own page and a changelist's breadcrumbs use the same names.
    assert "Schedules administration" in browser.get("/admin/django_celery_beat/").content.decode()
    assert ">Forms</a>" in browser.get("/admin/forms_app/form/").content.decode()


@pytest.mark.parametrize(
    "url",
    ["/admin/auth/group/", "/admin/token_blacklist/outstandingtoken/", "/admin/token_blacklist/blacklistedtoken/"],
)
def test_groups_and_the_token_blacklist_are_not_in_the_console(browser, url):
    assert browser.get(url).status_code == 404
    html = browser.get("/admin/").content.decode()
    assert "Groups" not in html and "Outstanding tokens" not in html and "Blacklisted tokens" not in html
