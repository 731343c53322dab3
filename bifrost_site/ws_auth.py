"""WebSocket admission: the origin check, and authentication by `?token=<access token>` for API
clients (sessions come from AuthMiddlewareStack)."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def own_origin(scope) -> str | None:
    """This server's origin as the browser sees it: the scheme (the proxy's `X-Forwarded-Proto` when
    SECURE_PROXY_SSL_HEADER trusts it, as Django does for requests), the Host header and its port.
    None when the Host is not one of ALLOWED_HOSTS."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, value = proxy_header
        forwarded = _header(scope, name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if forwarded is not None:
            secure = forwarded.split(",")[0].strip() == value
    return f"{'https' if secure else 'http'}://{host.lower()}"


def allowed_origins(scope) -> list[str]:
    """Whole origins (scheme, host and port): this server's own, CORS_ALLOWED_ORIGINS and
    CSRF_TRUSTED_ORIGINS (a `*.` wildcard there stands for the domain and its subdomains)."""
    origins = [
        origin.replace("://*.", "://.") for origin in (*settings.CORS_ALLOWED_ORIGINS, *settings.CSRF_TRUSTED_ORIGINS)
    ]
    own = own_origin(scope)
    return [own, *origins] if own else origins


class SameOriginValidator:
    """Refuses a WebSocket handshake whose Origin is not an allowed origin. Channels'
    AllowedHostsOriginValidator compares host names only, so a page on any port of an allowed host
    (`http://localhost:9999`) could open a socket with the user's session (issue 18)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        return await OriginValidator(self.application, allowed_origins(scope))(scope, receive, send)


@database_sync_to_async
def _user_for_token(raw_token: str):
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    from accounts.authentication import BifrostJWTAuthentication

    auth = BifrostJWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw_token.encode()))
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None


class TokenAuthMiddleware(BaseMiddleware):
    """A valid `?token=` wins over the session; an invalid one leaves the connection anonymous."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0]
        if token:
            from django.contrib.auth.models import AnonymousUser

            user = await _user_for_token(token)
            scope["user"] = user or AnonymousUser()
        return await super().__call__(scope, receive, send)
