"""Django's admin site, discovered with the URLconf instead of at startup (see BifrostAdminConfig)."""

from django.contrib import admin


class BifrostAdminSite(admin.AdminSite):
    def check(self, app_configs):
        # `manage.py check` may run the admin checks before the URL checks have imported the URLconf:
        # discover the ModelAdmins first so they are always checked. Discovery imports each admin module once.
        admin.autodiscover()
        return super().check(app_configs)
