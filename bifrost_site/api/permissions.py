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


class AdminWritesAuthenticatedReads(BasePermission):
    """Reads for any signed-in user, writes for platform admins."""

    message = "Only platform administrators can change this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return bool(getattr(user, "is_platform_admin", False))


class BearerChallengeMixin:
    """For views without authenticators: a failed credential check still answers 401 with a
    WWW-Authenticate challenge (DRF would otherwise turn it into a 403)."""

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'
