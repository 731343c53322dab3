"""The page the browser lands on after the provider's consent screen (GET /oauth/callback)."""

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oauth_app import services


@never_cache
@require_GET
def oauth_callback(request):
    params = request.GET
    try:
        connection = services.oauth_callback_complete(
            state=params.get("state", ""),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
        )
    except services.CallbackRefused as refused:
        return _page(
            request,
            ok=False,
            status=refused.status,
            message=refused.message,
            connection=refused.connection,
        )
    return _page(request, ok=True, status=200, message="The connection is ready to use.", connection=connection)


def _page(request, *, ok: bool, status: int, message: str, connection):
    html = render_to_string(
        "oauth_app/callback.html", {"ok": ok, "message": message, "connection": connection}, request=request
    )
    return HttpResponse(html, status=status)
