"""Every app's API routes under /api/. Each app owns its `api/urls.py`."""

from django.urls import include, path

from bifrost_site.api.root import APIRootView
from bifrost_site.metrics import MetricsView

# Django tries these in order and the app prefixes never overlap, so the busiest routes (run a
# workflow, read executions) come first: every include tried before the match costs a few µs.
urlpatterns = [
    path("", include("workflows.api.urls")),
    path("", include("executions.api.urls")),
    path("metrics", MetricsView.as_view(), name="api-metrics"),
    path("", include("orgs.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("secrets_app.api.urls")),
    path("", include("oauth_app.api.urls")),
    path("", include("forms_app.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("notifications.api.urls")),
    path("", APIRootView.as_view(), name="api-root"),  # GET /api/: the map of the routes above
]
