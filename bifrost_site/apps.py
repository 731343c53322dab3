from django.apps import AppConfig


class BifrostSiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bifrost_site"
    verbose_name = "Bifrost"

    def ready(self) -> None:
        from bifrost_site.api import schema  # noqa: F401  (registers OpenAPI auth extensions)
