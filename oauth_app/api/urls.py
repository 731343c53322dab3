from django.urls import path
from rest_framework.routers import SimpleRouter

from oauth_app.api.views import OAuthConnectionViewSet, RefreshJobView

router = SimpleRouter(trailing_slash=False)
router.register("oauth/connections", OAuthConnectionViewSet, basename="oauth-connection")

urlpatterns = [
    path("oauth/refresh-job", RefreshJobView.as_view(), name="oauth-refresh-job"),
    *router.urls,
]
