from django.urls import path
from rest_framework.routers import SimpleRouter

from executions.api.usage_views import UsageView
from executions.api.views import ExecutionViewSet

app_name = "executions-api"

router = SimpleRouter(trailing_slash=False)
router.register("executions", ExecutionViewSet, basename="execution")

urlpatterns = [*router.urls, path("usage", UsageView.as_view(), name="usage")]
