from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from bifrost_site.admin_site import discover as discover_admin

# The OpenAPI extensions register themselves on import. Schema generation always walks this URLconf,
# so they are loaded here rather than in an AppConfig.ready(): a worker never imports drf-spectacular.
from bifrost_site.api import schema  # noqa: F401
from bifrost_site.health import HealthView, LiveView
from bifrost_site.metrics import prometheus_metrics
from bifrost_site.views import home
from executions.admin_usage import usage_admin_view

# BifrostAdminConfig leaves the discovery of the apps' admin modules to the URLconf (not the worker).
discover_admin()

urlpatterns = [
    path("api/", include("bifrost_site.api.urls")),  # first: the busiest prefix (see api/urls.py)
    path("admin/usage/", usage_admin_view, name="admin-usage"),  # DESIGN §20: usage per organization
    path("admin/", admin.site.urls),
    path("auth/", include("accounts.auth_urls")),
    path("health", HealthView.as_view(), name="health"),
    path("health/live", LiveView.as_view(), name="health-live"),
    path("metrics", prometheus_metrics, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from /docs?script= instead of inline (CSP: script-src 'self').
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("oauth/", include("oauth_app.urls")),
    path("executions/", include("executions.urls")),
    path("", include("accounts.urls")),
    path("forms/", include("forms_app.urls")),
    path("approvals/", include("approvals.urls")),
    path("", home, name="home"),
]

handler404 = "bifrost_site.views.not_found"
handler500 = "bifrost_site.views.server_error"
