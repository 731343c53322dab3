from django.apps import AppConfig


class OauthAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oauth_app"
    verbose_name = "OAuth"
