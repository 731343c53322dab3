from django.http import JsonResponse
from django.shortcuts import redirect

from bifrost_site.api.exceptions import error_body


def _wants_json(request) -> bool:
    return request.path.startswith(
        ("/api/", "/auth/", "/health", "/metrics")
    ) or "application/json" in request.headers.get("Accept", "")


def home(request):
    """`/`: platform admins to the admin console, everyone else to their forms (DESIGN §18)."""
    user = request.user
    if not user.is_authenticated:
        return redirect("/login/")
    return redirect("/admin/" if getattr(user, "is_platform_admin", False) else "/forms/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body(404, f"No endpoint at {request.path}."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        return JsonResponse(error_body(500, "Internal server error.", code="server_error"), status=500)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
