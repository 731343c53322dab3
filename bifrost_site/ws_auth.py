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


# --- sockets bound to a signed-in user (DESIGN §10, §17) ---

USER_SESSIONS_ENDED = "user.sessions_ended"
CLOSE_SESSION_ENDED = 4001  # the pages treat it as "signed out"


def user_group(user_id) -> str:
    """Every socket of one user joins this group, so ending the user's sessions can reach them all."""
    return f"user.{user_id}"


def user_sockets_close(user_ids) -> None:
    """Tell every open socket of these users to close. Best effort: a socket that misses this (Redis
    down) closes at its next heartbeat, which re-checks the user."""
    import logging

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    try:
        for user_id in user_ids:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": USER_SESSIONS_ENDED})
    except Exception:
        logging.getLogger(__name__).warning("could not tell the sockets of %d users to close", len(user_ids))


def user_session_is_live(user_id, token_version: int) -> bool:
    """The user may still be signed in with what they connected with: active, in an active organization
    (if any), and their sessions not ended since (the token version is unchanged)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(id=user_id, is_active=True, token_version=token_version)
        .filter(Q(organization__isnull=True) | Q(organization__is_active=True))
        .exists()
    )


class LiveSessionMixin:
    """For WebSocket consumers of signed-in users: join the user's group, send a heartbeat every
    WS_HEARTBEAT_SECONDS (proxies close silent sockets) and, at each beat, check the user is still
    signed in; close with 4001 when their sessions end (a new password, deactivation of the user or
    their organization). Call `session_start(user)` once the user is known, `session_stop()` on
    disconnect."""

    session_user_id = None
    session_token_version = None
    session_group: str | None = None
    heartbeat_task = None
    session_ended = False

    async def session_start(self, user) -> bool:
        """Returns False (and closes the socket) when the user's session already ended."""
        import asyncio

        self.session_user_id = user.pk
        self.session_token_version = user.token_version
        self.session_group = user_group(user.pk)
        await self.channel_layer.group_add(self.session_group, self.channel_name)
        # Checked after joining: sessions ended from now on also arrive as an event.
        if not await self._session_is_live():
            await self.close(code=CLOSE_SESSION_ENDED)
            return False
        self.heartbeat_task = asyncio.ensure_future(self._heartbeat())
        return True

    async def session_stop(self) -> None:
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
            self.heartbeat_task = None
        if self.session_group:
            await self.channel_layer.group_discard(self.session_group, self.channel_name)
            self.session_group = None

    async def user_sessions_ended(self, event) -> None:
        await self._end_session()

    async def _end_session(self) -> None:
        if self.session_ended:
            return  # a second message (the password's and the deactivation's) finds it closed
        self.session_ended = True
        if self.heartbeat_task is not None and self.heartbeat_task is not _current_task():
            self.heartbeat_task.cancel()
        self.heartbeat_task = None
        await self.close(code=CLOSE_SESSION_ENDED)

    async def _session_is_live(self) -> bool:
        return await database_sync_to_async(user_session_is_live)(self.session_user_id, self.session_token_version)

    async def _heartbeat(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(settings.WS_HEARTBEAT_SECONDS)
            try:
                live = await self._session_is_live()
            except Exception:  # the database is unreachable: keep the socket; check again next beat
                live = True
            if not live:
                await self._end_session()
                return
            await self.send_json({"type": "heartbeat"})


def _current_task():
    import asyncio

    return asyncio.current_task()
