from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import views

app_name = "accounts-api"

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserViewSet, basename="user")
router.register("roles", views.RoleViewSet, basename="role")
router.register("invitations", views.InvitationViewSet, basename="invitation")

urlpatterns = [
    path("auth/tokens", views.PersonalTokenListView.as_view(), name="personal-token-list"),
    path("auth/tokens/<str:token_id>", views.PersonalTokenDetailView.as_view(), name="personal-token-detail"),
    path("organizations/<str:organization_id>/sso", views.OrganizationSSOView.as_view(), name="organization-sso"),
    *router.urls,
]
