from django.apps import AppConfig


class SecretsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "secrets_app"
    verbose_name = "Secrets"
