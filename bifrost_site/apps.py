from django.apps import AppConfig


class BifrostSiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bifrost_site"
    verbose_name = "Bifrost"
