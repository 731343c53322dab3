from rest_framework.routers import SimpleRouter

from orgs.api import views

app_name = "orgs-api"

router = SimpleRouter(trailing_slash=False)
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("config", views.ConfigViewSet, basename="config")

urlpatterns = router.urls
