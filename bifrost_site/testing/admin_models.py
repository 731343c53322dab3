"""Instances of every model registered on the admin site, for tests that open its pages.

An instance is built with the app's factory (found in `<app>/tests/factories.py`) or, for models
without one, with a builder below; a newly registered model without either fails by name."""

from __future__ import annotations

import datetime
import importlib
import inspect

from django.apps import apps
from django.contrib import admin
from django.utils import timezone
from factory.django import DjangoModelFactory


def factories() -> dict:
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


def instance(model):
    label = model._meta.label_lower
    if label in BUILDERS:
        return BUILDERS[label]()
    factory = factories().get(model)
    assert factory is not None, (
        f"{label} is registered on the admin site but has neither a factory in its app's tests/factories.py "
        "nor a builder in bifrost_site/testing/admin_models.py BUILDERS: add one."
    )
    return factory()


def registered_models() -> list:
    """Every model of the admin site, by label (the URLconf must have been imported: it discovers them)."""
    import bifrost_site.urls  # noqa: F401

    return sorted(admin.site._registry, key=lambda model: model._meta.label_lower)
