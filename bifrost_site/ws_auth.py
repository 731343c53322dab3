"""WebSocket authentication by `?token=<access token>` for API clients; sessions come from AuthMiddlewareStack."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


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
