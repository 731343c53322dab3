"""Writes for accounts: sign-in, tokens, registration and the development admin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

import audit
from accounts.authentication import check_user_may_sign_in, revoke_access_token
from accounts.models import UserType

User = get_user_model()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_response(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


def tokens_issue(*, user) -> TokenPair:
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    return TokenPair(
        access_token=str(access),
        refresh_token=str(refresh),
        expires_in=int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    )


def _failure_key(ip: str | None, username: str) -> str:
    digest = hashlib.sha256(f"{ip}|{username.lower()}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def _failures(key: str) -> int:
    try:
        return int(cache.get(key) or 0)
    except Exception:
        return 0


def _count_failure(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            cache.incr(key)
    except Exception:
        pass


class LoginThrottled(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts; try again later."


def auth_login(*, username: str, password: str, ip: str | None) -> TokenPair:
    """Check credentials and issue a token pair. Failures are audited and throttled."""
    username = (username or "").strip().lower()
    key = _failure_key(ip, username)
    if _failures(key) >= settings.LOGIN_FAILURE_LIMIT:
        audit.record(action="auth.login_throttled", resource_type="user", actor_name=username or "anonymous")
        raise LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)

    user = User.objects.select_related("organization").filter(email=username).first() if username else None
    if user is None:
        User().set_password(password)  # same cost as a real check, so timing does not reveal accounts
        valid = False
    else:
        valid = user.check_password(password)
    if not valid:
        _count_failure(key)
        audit.record(
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id if user else "",
            actor_name=username or "anonymous",
            organization=user.organization_id if user else None,
            changes={"reason": "invalid_credentials"},
        )
        raise exceptions.AuthenticationFailed("Incorrect email or password.")
    try:
        check_user_may_sign_in(user)
    except exceptions.PermissionDenied:
        audit.record(
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id,
            actor_name=user.email,
            organization=user.organization_id,
            changes={"reason": "inactive"},
        )
        raise
    try:
        cache.delete(key)
    except Exception:
        pass
    User.objects.filter(id=user.id).update(last_login=timezone.now())
    audit.record(
        action="auth.login", resource_type="user", resource_id=user.id, actor=user, organization=user.organization_id
    )
    return tokens_issue(user=user)


@transaction.atomic
def auth_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the old refresh token is blacklisted and refused afterwards."""
    try:
        old = RefreshToken(refresh_token)
    except TokenError as exc:
        raise exceptions.AuthenticationFailed(f"Invalid refresh token: {exc}") from None
    user = User.objects.select_related("organization").filter(id=old.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None:
        raise exceptions.AuthenticationFailed("Invalid refresh token: the user no longer exists.")
    check_user_may_sign_in(user)
    try:
        old.blacklist()
    except TokenError as exc:
        raise exceptions.AuthenticationFailed(f"Invalid refresh token: {exc}") from None
    return tokens_issue(user=user)


def auth_logout(*, refresh_token: str, access_token: str | None = None) -> None:
    try:
        refresh = RefreshToken(refresh_token)
    except TokenError as exc:
        raise exceptions.ValidationError({"refresh_token": [f"Invalid refresh token: {exc}"]}) from None
    refresh.blacklist()
    if access_token:
        try:
            access = AccessToken(access_token)
            seconds_left = int(access["exp"] - timezone.now().timestamp())
            revoke_access_token(access[jwt_settings.JTI_CLAIM], seconds_left)
        except TokenError:
            pass
    audit.record(action="auth.logout", resource_type="user", resource_id=refresh.get(jwt_settings.USER_ID_CLAIM, ""))


@transaction.atomic
def user_register(*, email: str, password: str, name: str = "", organization=None):
    """Development-only self registration. Without an organization the user is a PLATFORM user,
    and the very first user of an empty installation becomes a platform admin."""
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        from bifrost_site.api.errors import ConflictError

        raise ConflictError(f"A user with email {email} already exists.")
    candidate = User(email=email, name=name, organization=organization)
    try:
        password_validation.validate_password(password, candidate)
    except Exception as exc:  # django ValidationError
        raise exceptions.ValidationError({"password": list(getattr(exc, "messages", [str(exc)]))}) from None
    if organization is not None:
        user = User.objects.create_user(email, password, name=name, organization=organization, user_type=UserType.ORG)
    else:
        first = not User.objects.exists()
        user = User.objects.create_user(
            email, password, name=name, user_type=UserType.PLATFORM, is_platform_admin=first
        )
    audit.record(
        action="user.register", resource_type="user", resource_id=user.id, actor=user, organization=organization
    )
    return user


@transaction.atomic
def dev_user_ensure(*, email: str, password: str):
    """Create the development platform admin, or make sure it can sign in. Idempotent."""
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_superuser(email, password, name="Development Admin")
        return user, True
    changed = False
    if not user.is_active or not user.is_platform_admin or not user.check_password(password):
        user.is_active = True
        user.is_platform_admin = True
        user.user_type = UserType.PLATFORM
        user.organization = None
        user.set_password(password)
        user.save()
        changed = True
    return user, changed
