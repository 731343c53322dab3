"""Authentication: JWT bearer tokens, session cookies (with CSRF), and the development bypass."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

logger = logging.getLogger(__name__)

DEV_BYPASS = "dev-bypass"
REVOKED_ACCESS_PREFIX = "revoked-access:"


def access_token_revoked(jti: str) -> bool:
    try:
        return bool(cache.get(REVOKED_ACCESS_PREFIX + jti))
    except Exception:  # Redis down: fall back to signature and expiry checks only
        logger.warning("could not check the access-token denylist; Redis unreachable")
        return False


def revoke_access_token(jti: str, seconds_left: int) -> None:
    try:
        cache.set(REVOKED_ACCESS_PREFIX + jti, 1, timeout=max(seconds_left, 1))
    except Exception:
        logger.warning("could not record a revoked access token; Redis unreachable")


def check_user_may_sign_in(user) -> None:
    """Inactive users, and users of an inactive organization, are refused (403)."""
    if not user.is_active:
        raise exceptions.PermissionDenied("This account is disabled.")
    if user.organization_id is not None and not user.organization.is_active:
        raise exceptions.PermissionDenied("This account's organization is inactive.")


class BifrostJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        jti = token.get(jwt_settings.JTI_CLAIM)
        if jti and access_token_revoked(jti):
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        return token

    def get_user(self, validated_token):
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        if user_id is None:
            raise exceptions.AuthenticationFailed("Token contained no recognizable user identification.")
        user = next(iter(get_user_model().objects.select_related("organization").filter(id=user_id)), None)
        if user is None:
            raise exceptions.AuthenticationFailed("User not found.", code="user_not_found")
        if not user.is_active or (user.organization_id and not user.organization.is_active):
            raise exceptions.AuthenticationFailed("This account or its organization is disabled.", code="user_inactive")
        return user


class CsrfSessionAuthentication(SessionAuthentication):
    """Browser sessions; DRF enforces CSRF on unsafe methods for them."""


def dev_bypass_applies(request) -> bool:
    if not (settings.DEV_AUTH_BYPASS and settings.ENVIRONMENT == "development"):
        return False
    if "HTTP_AUTHORIZATION" in request.META:
        return False
    path = request.path
    if path.startswith("/api/endpoints/"):
        return False
    return path.startswith("/api/") or path == "/auth/me"


class DevBypassAuthentication(BaseAuthentication):
    """Development only: a request with no Authorization header acts as the dev admin (DESIGN §6).

    Settings refuse DEV_AUTH_BYPASS outside development, and this class checks again per request.
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
