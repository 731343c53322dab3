"""The page the browser lands on after the provider's consent screen (GET /oauth/callback)."""

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
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
        back = _admin_return(request, refused.connection)
        if back:
            messages.error(request, f"Not connected: {refused.message}")
            return HttpResponseRedirect(back)
        return _page(
            request,
            ok=False,
            status=refused.status,
            message=refused.message,
            connection=refused.connection,
        )
    back = _admin_return(request, connection)
    if back:
        messages.success(request, f"OAuth connection '{connection.name}' is connected and ready to use.")
        return HttpResponseRedirect(back)
    return _page(request, ok=True, status=200, message="The connection is ready to use.", connection=connection)


ADMIN_RETURN_SESSION_KEY = "oauth_admin_return"


def remember_admin_return(request, connection, url: str) -> None:
    """The admin's Connect button: after the provider's answer, go back to `url` (the connection's admin
    page) with a message instead of showing the stand-alone callback page."""
    returns = dict(request.session.get(ADMIN_RETURN_SESSION_KEY) or {})
    returns[str(connection.pk)] = url
    request.session[ADMIN_RETURN_SESSION_KEY] = returns


def _admin_return(request, connection) -> str | None:
    if connection is None or not hasattr(request, "session"):
        return None
    returns = dict(request.session.get(ADMIN_RETURN_SESSION_KEY) or {})
    url = returns.pop(str(connection.pk), None)
    if url is not None:
        request.session[ADMIN_RETURN_SESSION_KEY] = returns
    return url


def _page(request, *, ok: bool, status: int, message: str, connection):
    html = render_to_string(
        "oauth_app/callback.html", {"ok": ok, "message": message, "connection": connection}, request=request
    )
    return HttpResponse(html, status=status)
