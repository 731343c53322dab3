"""No admin page answers 500 (issue 18 item 13, issue 21 item 8, DESIGN §18).

Generated from the admin site's registry: for every registered model, as a platform admin, the
changelist (plain and searched), the add page, the change, history and delete pages of one instance,
and the add form submitted empty. 200, 302 and 403 are answers; a form with errors is a 200.
An instance is built with the app's factory (found in `<app>/tests/factories.py`) or, for models
without one, with a builder below; a newly registered model without either fails the test by name.
"""

from __future__ import annotations

import datetime
import importlib
import inspect

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from factory.django import DjangoModelFactory

import bifrost_site.urls  # noqa: F401  (the URLconf discovers the admin modules)

pytestmark = pytest.mark.django_db

ANSWERS = {200, 302, 403}


def _factories() -> dict:
    """The first factory of each model, from every app's tests/factories.py."""
    found = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.tests.factories")
        except ModuleNotFoundError:
            continue
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, DjangoModelFactory) and value.__module__ == module.__name__:
                model = value._meta.model
                if model is not None and not value._meta.abstract:
                    found.setdefault(model, value)
    return found


def _crontab():
    from django_celery_beat.models import CrontabSchedule

    return CrontabSchedule.objects.create(minute="0", hour="6")


def _interval():
    from django_celery_beat.models import IntervalSchedule

    return IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)


def _periodic_task():
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.create(name="admin-pages-task", task="bifrost.noop", interval=_interval())


def _clocked():
    from django_celery_beat.models import ClockedSchedule

    return ClockedSchedule.objects.create(clocked_time=timezone.now() + datetime.timedelta(days=1))


def _solar():
    from django_celery_beat.models import SolarSchedule

    return SolarSchedule.objects.create(event="sunrise", latitude=52.37, longitude=4.89)


def _refresh_run():
    from oauth_app.models import OAuthRefreshRun

    return OAuthRefreshRun.objects.create(started_at=timezone.now(), checked=2, refreshed=1, failed=1)


def _git_settings():
    from workflows.models import WorkspaceGitSettings

    return WorkspaceGitSettings.objects.create(repo_url="https://git.example/ops/workspace.git")


def _schedule_tick():
    from workflows.models import ScheduleTick

    return ScheduleTick.objects.create(workflow_name="nightly_report", scheduled_for=timezone.now())


BUILDERS = {
    "django_celery_beat.crontabschedule": _crontab,
    "django_celery_beat.intervalschedule": _interval,
    "django_celery_beat.periodictask": _periodic_task,
    "django_celery_beat.clockedschedule": _clocked,
    "django_celery_beat.solarschedule": _solar,
    "oauth_app.oauthrefreshrun": _refresh_run,
    "workflows.workspacegitsettings": _git_settings,
    "workflows.scheduletick": _schedule_tick,
}

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)


def _instance(model):
    label = model._meta.label_lower
    if label in BUILDERS:
        return BUILDERS[label]()
    factory = _factories().get(model)
    assert factory is not None, (
        f"{label} is registered on the admin site but has neither a factory in its app's tests/factories.py "
        "nor a builder in bifrost_site/tests/test_admin_pages.py BUILDERS: add one."
    )
    return factory()


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
