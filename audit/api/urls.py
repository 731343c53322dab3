from rest_framework.routers import SimpleRouter

from audit.api import views

app_name = "audit-api"

router = SimpleRouter(trailing_slash=False)
router.register("audit-logs", views.AuditLogViewSet, basename="audit-log")

urlpatterns = router.urls
