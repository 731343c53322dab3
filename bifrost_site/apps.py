from django.apps import AppConfig
from django.contrib.admin.apps import SimpleAdminConfig
from django_celery_beat.apps import BeatConfig


class BifrostSiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bifrost_site"
    verbose_name = "Bifrost"


class SchedulesConfig(BeatConfig):
    """django-celery-beat, named for what it holds in Bifrost: the workflows' schedules (admin section "Schedules")."""

    verbose_name = "Schedules"


class BifrostAdminConfig(SimpleAdminConfig):
    """The admin, without Django's autodiscovery in `ready()`.

    Every app's admin module (and what it imports: services, forms, simplejwt's blacklist admin, which
    pulls in django.test) is imported by the URLconf (bifrost_site/urls.py) instead, so a Celery worker,
    which never serves the admin, does not carry it (about 4 MB per process; docs/performance.md).
    """

    default_site = "bifrost_site.admin_site.BifrostAdminSite"

    def ready(self) -> None:
        super().ready()
        # Create the (lazy) default site now: Django's admin checks iterate over the sites that exist, and
        # BifrostAdminSite.check() discovers the ModelAdmins before checking them.
        self.module.site.name  # noqa: B018
