"""WebSocket admission: the origin check, and authentication of API clients by a token (sessions come
from AuthMiddlewareStack): an access token (JWT) or a personal API token (`bfp_…`, DESIGN §17), sent as
`?token=` or, from clients that can set headers, as `Authorization: Bearer …` on the handshake."""

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


PERSONAL_TOKEN_SCOPE_KEY = "personal_token_id"  # set in the scope when a personal token authenticated


@database_sync_to_async
def _credential_for_token(raw_token: str):
    """`(user, personal token id or None)` for a valid token, else `(None, None)`. A `bfp_…` token is a
    personal API token (its user, with that user's scope); anything else must be an access token."""
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    from accounts.authentication import PERSONAL_TOKEN_PREFIX, BifrostJWTAuthentication, personal_token_user

    if raw_token.startswith(PERSONAL_TOKEN_PREFIX):
        try:
            user, token = personal_token_user(raw_token)
        except AuthenticationFailed:
            return None, None
        return user, token.id
    auth = BifrostJWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw_token.encode())), None
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None, None


def _bearer(scope) -> str:
    kind, _, raw = (_header(scope, b"authorization") or "").partition(" ")
    return raw.strip() if kind.lower() == "bearer" else ""


class TokenAuthMiddleware(BaseMiddleware):
    """A valid token (`?token=`, else an `Authorization: Bearer` header) wins over the session; an
    invalid one leaves the connection anonymous (the consumers close it with 4001)."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0] or _bearer(scope)
        if token:
            from django.contrib.auth.models import AnonymousUser

            user, personal_token_id = await _credential_for_token(token)
            scope = dict(scope, user=user or AnonymousUser())
            scope[PERSONAL_TOKEN_SCOPE_KEY] = personal_token_id
        return await super().__call__(scope, receive, send)


# --- sockets bound to a signed-in user (DESIGN §10, §17) ---

USER_SESSIONS_ENDED = "user.sessions_ended"
CLOSE_SESSION_ENDED = 4001  # the pages treat it as "signed out"


def user_group(user_id) -> str:
    """Every socket of one user joins this group, so ending the user's sessions can reach them all."""
    return f"user.{user_id}"


def personal_token_group(token_id) -> str:
    """The sockets a personal token opened also join this group, so revoking the token reaches them."""
    return f"personal-token.{token_id}"


def personal_token_sockets_close(token_id) -> None:
    """Tell the sockets opened with this personal token to check it again (and close: it was revoked).
    Best effort, like user_sockets_close: a socket that misses this closes at its next heartbeat."""
    import logging

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    try:
        async_to_sync(get_channel_layer().group_send)(personal_token_group(token_id), {"type": USER_SESSIONS_ENDED})
    except Exception:
        logging.getLogger(__name__).warning("could not tell the sockets of a personal token to close")


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


def user_session_is_live(user_id, token_version: int, personal_token_id=None) -> bool:
    """The user may still be signed in with what they connected with: active, in an active organization
    (if any), and their sessions not ended since (the token version is unchanged). A socket opened with a
    personal token lives as long as that token may act (not revoked, not expired, user and organization
    active): a new password or MFA ends sign-in sessions, not personal tokens (docs/identity.md)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    if personal_token_id is not None:
        from accounts.authentication import personal_token_is_live

        return personal_token_is_live(personal_token_id)

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
    their organization). A socket opened with a personal token closes when that token is revoked or
    expires, or its user or organization is deactivated. Call `session_start(user)` once the user is
    known, `session_stop()` on disconnect."""

    session_user_id = None
    session_token_version = None
    session_personal_token_id = None
    session_group: str | None = None
    session_token_group: str | None = None
    heartbeat_task = None
    session_ended = False

    async def session_start(self, user) -> bool:
        """Returns False (and closes the socket) when the user's session already ended."""
        import asyncio

        self.session_user_id = user.pk
        self.session_token_version = user.token_version
        self.session_personal_token_id = self.scope.get(PERSONAL_TOKEN_SCOPE_KEY)
        self.session_group = user_group(user.pk)
        await self.channel_layer.group_add(self.session_group, self.channel_name)
        if self.session_personal_token_id is not None:
            self.session_token_group = personal_token_group(self.session_personal_token_id)
            await self.channel_layer.group_add(self.session_token_group, self.channel_name)
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
        if self.session_token_group:
            await self.channel_layer.group_discard(self.session_token_group, self.channel_name)
            self.session_token_group = None

    async def user_sessions_ended(self, event) -> None:
        if self.session_personal_token_id is not None and await self._session_is_live():
            return  # e.g. a new password: sign-in sessions end, this personal token still acts
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
        return await database_sync_to_async(user_session_is_live)(
            self.session_user_id, self.session_token_version, self.session_personal_token_id
        )

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
