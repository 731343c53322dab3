"""Every app's API routes under /api/. Each app owns its `api/urls.py`."""

from django.urls import include, path

from bifrost_site.metrics import MetricsView

urlpatterns = [
    path("metrics", MetricsView.as_view(), name="api-metrics"),
    path("", include("orgs.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("secrets_app.api.urls")),
    path("", include("oauth_app.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("executions.api.urls")),
    path("", include("forms_app.api.urls")),
]
