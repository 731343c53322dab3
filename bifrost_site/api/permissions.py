from rest_framework.permissions import BasePermission


class IsPlatformAdmin(BasePermission):
    """The default: platform admins only. Anonymous → 401 (DRF), ORG users → 403."""

    message = "This endpoint is for platform administrators."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_platform_admin", False))


class IsAuthenticatedUser(BasePermission):
    """Any signed-in user; what they see is narrowed by the scope and the app's selectors."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)


class BearerChallengeMixin:
    """For views without authenticators: a failed credential check still answers 401 with a
    WWW-Authenticate challenge (DRF would otherwise turn it into a 403)."""

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'
