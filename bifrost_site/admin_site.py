"""Bifrost's admin site: the staff console (DESIGN §18), discovered with the URLconf instead of at startup
(see BifrostAdminConfig).

Branded "Bifrost administration"; the app sections appear in the order an MSP admin works through them,
under their AppConfig's verbose_name; Django's Groups (Bifrost's roles replace them) and simplejwt's token
blacklist tables (managed by /auth/logout and /auth/refresh, never by hand) are not offered. The look:
templates/admin/base_site.html and bifrost_site/static/bifrost_site/admin.css.
"""

from django.contrib import admin

SITE_TITLE = "Bifrost administration"

# Admin index order, by app label; an app not named here follows, alphabetically.
APP_ORDER = [
    "orgs",
    "accounts",
    "workflows",
    "executions",
    "approvals",
    "forms_app",
    "secrets_app",
    "oauth_app",
    "notifications",
    "audit",
    "django_celery_beat",
]

# (app label, model name) registered by third-party admin modules and deliberately left out of the console.
HIDDEN_MODELS = [
    ("auth", "group"),
    ("token_blacklist", "outstandingtoken"),
    ("token_blacklist", "blacklistedtoken"),
]


class BifrostAdminSite(admin.AdminSite):
    site_header = SITE_TITLE
    site_title = SITE_TITLE
    index_title = SITE_TITLE
    # Django's app sidebar takes 300 px of every page; without it a changelist's columns and filters fit a
    # 1400 px window. The index, the breadcrumbs and the changelists' filters do the navigating.
    enable_nav_sidebar = False

    @property
    def login_form(self):
        """`/admin/login/` checks what `/login/` checks (lock-out, enforced SSO) and refuses a password alone
        for an account with (or due) a second factor (accounts.views.AdminSignInForm, DESIGN §17)."""
        from accounts.views import AdminSignInForm

        return AdminSignInForm

    def check(self, app_configs):
        # `manage.py check` may run the admin checks before the URL checks have imported the URLconf:
        # discover the ModelAdmins first so they are always checked. Discovery imports each admin module once.
        discover()
        return super().check(app_configs)

    def index(self, request, extra_context=None):
        """The app list under a dashboard of what needs attention now (bifrost_site.dashboard)."""
        from bifrost_site.dashboard import dashboard

        return super().index(request, {"dashboard": dashboard(), **(extra_context or {})})

    def get_urls(self):
        """Django's admin URLs, and the console's pages that belong to no one model's admin: a workflow's
        Run page (workflows/admin_run.py)."""
        from django.urls import path

        from workflows.admin_run import workflow_run_view

        def run(request, object_id):
            return workflow_run_view(self, request, object_id)

        return [
            path("workflows/workflow/<uuid:object_id>/run/", self.admin_view(run), name="workflows_workflow_run"),
            *super().get_urls(),
        ]

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        position = {label: index for index, label in enumerate(APP_ORDER)}
        return sorted(app_list, key=lambda app: (position.get(app["app_label"], len(APP_ORDER)), app["name"]))


def discover() -> None:
    """Import every app's admin module (once) and unregister the hidden models."""
    from django.apps import apps

    admin.autodiscover()
    for app_label, model_name in HIDDEN_MODELS:
        model = apps.get_model(app_label, model_name)
        if admin.site.is_registered(model):
            admin.site.unregister(model)
