"""No admin page answers 500 (issue 18 item 13, issue 21 item 8, DESIGN §18).

Generated from the admin site's registry: for every registered model, as a platform admin, the
changelist (plain and searched), the add page, the change, history and delete pages of one instance,
the add form submitted empty and the change form saved unchanged. 200, 302 and 403 are answers; a form
with errors is a 200.
An instance is built by bifrost_site/testing/admin_models.py (the app's factory, or a builder there);
a newly registered model without either fails the test by name.
"""

from __future__ import annotations

from html.parser import HTMLParser

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
        "Approvals",
        "Forms",
        "Secrets",
        "OAuth",
        "Notifications",
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


class _FormFields(HTMLParser):
    """What a browser submits for the admin's change form: its inputs, checked boxes, selected options
    (the first one when none is marked) and textareas, inline formsets' management forms included."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._select_multiple = False
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.data.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_multiple, self._options = name, "multiple" in a, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected]
            if not chosen and self._options and not self._select_multiple:
                chosen = [self._options[0][0]]
            self.data.extend((self._select, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.data.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def _form_data(html: str) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    return data


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label_lower)
def test_every_change_form_saved_unchanged_answers_without_a_500(browser, model):
    """The change page's own form, submitted as a browser would without editing anything."""
    obj = _instance(model)
    url = _url(model, "change", obj.pk)
    page = browser.get(url)
    assert page.status_code in ANSWERS
    if page.status_code != 200 or b'type="submit"' not in page.content or b'name="_save"' not in page.content:
        return  # a read-only page: nothing to submit
    response = browser.post(url, _form_data(page.content.decode()) | {"_save": ["Save"]})
    assert response.status_code in ANSWERS, f"saving {model._meta.label} unchanged answered {response.status_code}"
