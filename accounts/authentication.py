"""Authentication: JWT bearer tokens, session cookies (with CSRF), and the development bypass."""

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import DisallowedHost
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import aware_utcnow

DEV_BYPASS = "dev-bypass"
TOKEN_VERSION_CLAIM = "token_version"  # accounts.services.tokens_issue writes it
# A token without a jti claim matches no revocation (simplejwt always sets one).
_NO_JTI = ""


def _user_for_token_query(user_id, jti):
    """The user with their organization and whether this access token was revoked (RevokedAccessToken):
    one statement. The revocation is a plain EXISTS: every authenticated request asks, and Django's
    Exists() subquery costs more to build than the rest of the query."""
    return (
        get_user_model()
        .objects.select_related("organization")
        .filter(id=user_id)
        .annotate(
            token_revoked=RawSQL(
                "EXISTS (SELECT 1 FROM accounts_revokedaccesstoken WHERE jti = %s)", (jti,), output_field=BooleanField()
            )
        )
    )


# One round trip per authenticated request: the user, their organization and whether this access
# token was revoked.


def check_user_may_sign_in(user) -> None:
    """Inactive users, and users of an inactive organization, are refused (403)."""
    if not user.is_active:
        raise exceptions.PermissionDenied("This account is disabled.")
    if user.organization_id is not None and not user.organization.is_active:
        raise exceptions.PermissionDenied("This account's organization is inactive.")


# Access tokens this process has verified (signature, audience, issuer, type), by their exact bytes.
# The same bytes verify the same way again, so only the expiry is checked on a later request; the
# revocation and the user's state are read from the database on every request (get_user).
VERIFIED_TOKENS_MAX = 4096
_verified_tokens: dict[bytes, object] = {}


class BifrostJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token):
        token = _verified_tokens.get(raw_token)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError as exc:
                _verified_tokens.pop(raw_token, None)
                raise InvalidToken({"detail": str(exc.args[0]), "messages": []}) from None
            return token
        token = super().get_validated_token(raw_token)
        if len(_verified_tokens) >= VERIFIED_TOKENS_MAX:
            _verified_tokens.clear()
        _verified_tokens[raw_token] = token
        return token

    def get_user(self, validated_token):
        try:
            user_id = uuid.UUID(str(validated_token[jwt_settings.USER_ID_CLAIM]))
        except (KeyError, ValueError):
            raise exceptions.AuthenticationFailed("Token contained no recognizable user identification.") from None
        jti = str(validated_token.get(jwt_settings.JTI_CLAIM) or _NO_JTI)
        try:
            user = _user_for_token_query(user_id, jti).get()
        except get_user_model().DoesNotExist:
            raise exceptions.AuthenticationFailed("User not found.", code="user_not_found") from None
        if user.token_revoked or validated_token.get(TOKEN_VERSION_CLAIM, 0) != user.token_version:
            # revoked by a logout, or issued before the user's sessions were ended (password, deactivation)
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        if not user.is_active or (user.organization_id and not user.organization.is_active):
            raise exceptions.AuthenticationFailed("This account or its organization is disabled.", code="user_inactive")
        return user


class CsrfSessionAuthentication(SessionAuthentication):
    """Browser sessions; DRF enforces CSRF on unsafe methods for them."""


def sent_on_another_sites_behalf(request) -> bool:
    """A request a browser sends for a page of another origin: `Sec-Fetch-Site: cross-site`, or an
    `Origin` (including `null`) other than this server's own scheme, host and port."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    try:
        own = f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return True
    return origin.lower() != own.lower()


def dev_bypass_applies(request) -> bool:
    if not (settings.DEV_AUTH_BYPASS and settings.ENVIRONMENT == "development"):
        return False
    if "HTTP_AUTHORIZATION" in request.META:
        return False
    path = request.path
    if path.startswith("/api/endpoints/"):
        return False
    if not (path.startswith("/api/") or path == "/auth/me"):
        return False
    # Any web page could otherwise drive the bypass (a cross-site form post created an admin, issue 18).
    return not sent_on_another_sites_behalf(request)


class DevBypassAuthentication(BaseAuthentication):
    """Development only: a request with no Authorization header acts as the dev admin (DESIGN §6).

    Settings refuse DEV_AUTH_BYPASS outside development, and this class checks again per request.
    A request a browser sends on another site's behalf (cross-site `Sec-Fetch-Site`, a foreign
    `Origin`) is anonymous: otherwise any web page the developer opens could act as the admin.
    Views that must stay anonymous (public forms) check `request.auth == DEV_BYPASS`.
    """

    def authenticate(self, request):
        if not dev_bypass_applies(request):
            return None
        user = (
            get_user_model()
            .objects.select_related("organization")
            .filter(email=settings.DEV_USER_EMAIL.lower(), is_active=True)
            .first()
        )
        if user is None:
            return None
        return (user, DEV_BYPASS)


# --- personal API tokens (DESIGN §17) ---

PERSONAL_TOKEN_PREFIX = "bfp_"
PERSONAL_TOKEN_VISIBLE_CHARS = 8  # "bfp_" + 4 characters, what lists show
# last_used_at is written at most this often per token (a busy script would otherwise write on every call)
LAST_USED_RESOLUTION_SECONDS = 60


def personal_token_hash(raw_token: str) -> str:
    import hashlib

    return hashlib.sha256(raw_token.encode()).hexdigest()


class PersonalTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer bfp_…`: acts as the token's user, with that user's scope and roles.

    Every refusal (unknown, revoked, expired, user or organization inactive) is the same 401, so a
    caller learns nothing about which tokens exist. A header that is not a `bfp_` token is left to
    the JWT authentication (returns None).
    """

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        kind, _, raw = header.partition(" ")
        raw = raw.strip()
        if kind.lower() != self.keyword or not raw.startswith(PERSONAL_TOKEN_PREFIX):
            return None
        return personal_token_user(raw)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def personal_token_user(raw: str):
    """`(user, token)` for a raw `bfp_…` token that may act now, else the one AuthenticationFailed (401) for
    every refusal: unknown, revoked, expired, user or organization inactive. Records the last use (at most
    once a minute). The API (above) and the WebSocket admission (bifrost_site.ws_auth) both use it."""
    import hmac

    from django.utils import timezone

    from accounts.models import PersonalToken

    refused = exceptions.AuthenticationFailed("Invalid or expired personal token.", code="invalid_token")
    if not isinstance(raw, str) or not raw.startswith(PERSONAL_TOKEN_PREFIX):
        raise refused
    digest = personal_token_hash(raw)
    token = PersonalToken.objects.select_related("user", "user__organization").filter(token_hash=digest).first()
    now = timezone.now()
    if (
        token is None
        or not hmac.compare_digest(token.token_hash, digest)
        or token.revoked_at is not None
        or token.expires_at <= now
    ):
        raise refused
    user = token.user
    if not user.is_active or (user.organization_id and not user.organization.is_active):
        raise refused
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        PersonalToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
    return (user, token)


def personal_token_is_live(token_id) -> bool:
    """The personal token may still act: not revoked, not expired, its user and organization active."""
    from django.db.models import Q
    from django.utils import timezone

    from accounts.models import PersonalToken

    return (
        PersonalToken.objects.filter(
            id=token_id, revoked_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True
        )
        .filter(Q(user__organization__isnull=True) | Q(user__organization__is_active=True))
        .exists()
    )
