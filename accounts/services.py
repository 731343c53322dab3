"""Writes for accounts: sign-in, tokens, registration and the development admin."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

import audit
from accounts.authentication import TOKEN_VERSION_CLAIM, check_user_may_sign_in
from accounts.models import RevokedAccessToken, UserType

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
    refresh[TOKEN_VERSION_CLAIM] = user.token_version  # copied into the access token below
    access = refresh.access_token
    return TokenPair(
        access_token=str(access),
        refresh_token=str(refresh),
        expires_in=int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    )


def login_failure_key(ip: str | None, username: str) -> str:
    digest = hashlib.sha256(f"{ip}|{username.lower()}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_failures(key: str) -> int:
    try:
        return int(cache.get(key) or 0)
    except Exception:
        return 0


def login_failure_record(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            cache.incr(key)
    except Exception:
        pass


def login_failures_clear(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:
        pass


class LoginThrottled(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts; try again later."


def auth_login(*, username: str, password: str, ip: str | None):
    """Check credentials and issue a token pair, or the MFA challenge / set-up demand (accounts.mfa)
    of a user who needs a second factor. Failures are audited and throttled."""
    username = (username or "").strip().lower()
    key = login_failure_key(ip, username)
    if login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
        audit.record(action="auth.login_throttled", resource_type="user", actor_name=username or "anonymous")
        raise LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)

    from accounts import sso

    refusal = sso.password_sign_in_refused(email=username) if username else None
    if refusal:  # the email's domain signs in with an enforcing SSO provider: no password is checked
        audit.record(
            action="auth.login_failed",
            resource_type="user",
            actor_name=username,
            changes={"reason": "sso_enforced"},
        )
        raise exceptions.PermissionDenied(refusal)
    user = User.objects.select_related("organization").filter(email=username).first() if username else None
    if user is None:
        User().set_password(password)  # same cost as a real check, so timing does not reveal accounts
        valid = False
    else:
        valid = user.check_password(password)
    if not valid:
        login_failure_record(key)
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
        refusal = sso.password_sign_in_refused(email=username, user=user)
        if refusal:
            raise exceptions.PermissionDenied(refusal)
    except exceptions.PermissionDenied as exc:
        audit.record(
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id,
            actor_name=user.email,
            organization=user.organization_id,
            changes={"reason": "sso_enforced" if refusal else "inactive", "detail": str(exc.detail)},
        )
        raise
    from accounts import mfa

    result = mfa.sign_in_result(user=user)
    if not isinstance(result, TokenPair):
        # The failure count is kept until the second factor is given too: otherwise the right password
        # would reset it between guesses of the code.
        audit.record(
            action="auth.mfa_challenge",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            organization=user.organization_id,
            changes={"setup_required": isinstance(result, mfa.MFASetupRequired)},
        )
        return result
    try:
        cache.delete(key)
    except Exception:
        pass
    User.objects.filter(id=user.id).update(last_login=timezone.now())
    audit.record(
        action="auth.login", resource_type="user", resource_id=user.id, actor=user, organization=user.organization_id
    )
    return result


@transaction.atomic
def auth_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the old refresh token is blacklisted and refused afterwards.

    One refresh token yields exactly one new pair, also when several requests carry it at once
    (DESIGN §17): the blacklist entry is inserted, not looked up, and its unique constraint on the
    outstanding token lets one transaction in; the others wait for it to commit, then fail.
    """
    try:
        old = RefreshToken(refresh_token)  # signature, expiry, type, and the blacklist as committed
    except TokenError as exc:
        raise exceptions.AuthenticationFailed(f"Invalid refresh token: {exc}") from None
    user = User.objects.select_related("organization").filter(id=old.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None:
        raise exceptions.AuthenticationFailed("Invalid refresh token: the user no longer exists.")
    check_user_may_sign_in(user)
    if old.get(TOKEN_VERSION_CLAIM, 0) != user.token_version:
        raise exceptions.AuthenticationFailed("Invalid refresh token: the user's sessions have been ended.")
    outstanding, _ = old.outstand()
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise exceptions.AuthenticationFailed("Invalid refresh token: Token is blacklisted") from None
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
            RevokedAccessToken.objects.update_or_create(
                jti=access[jwt_settings.JTI_CLAIM],
                defaults={"expires_at": datetime.datetime.fromtimestamp(access["exp"], tz=datetime.UTC)},
            )
        except TokenError:
            pass
    audit.record(action="auth.logout", resource_type="user", resource_id=refresh.get(jwt_settings.USER_ID_CLAIM, ""))


def _registration_organization(*, email: str, organization_id):
    """The active organization `organization_id` names, if it owns the email's domain; else a 400
    that says the same whether the organization exists or not."""
    from orgs.models import Organization

    domain = email.rpartition("@")[2]
    organization = Organization.objects.filter(id=organization_id, is_active=True, domain=domain).first()
    if organization is None:
        raise exceptions.ValidationError(
            {
                "organization_id": [
                    f"You can only register into the organization that owns your email's domain ({domain})."
                ]
            }
        )
    return organization


# Reasons of user_sessions_end that also revoke the users' personal API tokens. A new password or MFA
# ends the sign-in sessions only: personal tokens are separate credentials, each revocable on its own
# (docs/identity.md). An inactive user or organization is refused per request besides.
DEACTIVATION_REASONS = frozenset({"user.deactivate", "organization.deactivate"})


@transaction.atomic
def user_sessions_end(*, user_ids, reason: str) -> None:
    """Revoke every access and refresh token of these users and close their WebSockets (DESIGN §17).

    For a deactivation (DEACTIVATION_REASONS) their personal API tokens are revoked too.

    Their token version moves on (the authentication and `/auth/refresh` refuse tokens issued under an
    older one), their outstanding refresh tokens are blacklisted, and once this commits each user's
    open sockets are told to close; a socket that misses the message finds out at its next heartbeat.
    """
    from django.db.models import F
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from bifrost_site.ws_auth import user_sockets_close

    user_ids = list(user_ids)
    if not user_ids:
        return
    User.objects.filter(id__in=user_ids).update(token_version=F("token_version") + 1)
    live = OutstandingToken.objects.filter(
        user_id__in=user_ids, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in live], ignore_conflicts=True)
    personal_tokens = 0
    if reason in DEACTIVATION_REASONS:
        from accounts.models import PersonalToken

        personal_tokens = PersonalToken.objects.filter(user_id__in=user_ids, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    audit.record(
        action="auth.sessions_end",
        resource_type="user",
        resource_id=user_ids[0] if len(user_ids) == 1 else "",
        changes={"reason": reason, "user_count": len(user_ids), "personal_tokens_revoked": personal_tokens},
    )
    transaction.on_commit(lambda: user_sockets_close(user_ids))


@transaction.atomic
def user_register(*, email: str, password: str, name: str = "", organization_id=None):
    """Development-only self registration. Without `organization_id` the user is a PLATFORM user,
    and the very first user of an empty installation becomes a platform admin. With one, the user
    joins that organization only if it owns the email's domain (`Organization.domain`)."""
    email = email.strip().lower()
    organization = (
        None if organization_id is None else _registration_organization(email=email, organization_id=organization_id)
    )
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
        user_roles_unholdable_drop(user=user)  # a platform admin holds no roles
        changed = True
    return user, changed


# --- user management (admin API) ---

USER_FIELDS = ["email", "name", "user_type", "is_platform_admin", "organization", "is_active"]
ROLE_FIELDS = ["name", "description", "organization", "is_active"]


def _validate_password(password: str, user) -> None:
    try:
        password_validation.validate_password(password, user)
    except Exception as exc:  # django ValidationError
        raise exceptions.ValidationError({"password": list(getattr(exc, "messages", [str(exc)]))}) from None


def _check_tenancy(*, user_type: str, organization, is_platform_admin: bool) -> None:
    if user_type == UserType.ORG:
        if organization is None:
            raise exceptions.ValidationError({"organization_id": ["An ORG user must belong to an organization."]})
        if is_platform_admin:
            raise exceptions.ValidationError(
                {"is_platform_admin": ["Only PLATFORM users can be platform admins; ORG users cannot."]}
            )
    elif organization is not None:
        raise exceptions.ValidationError(
            {"organization_id": ["PLATFORM users (and platform admins) must not belong to an organization."]}
        )


def _user_audit(action: str, user, changes: dict) -> None:
    audit.record(
        action=action, resource_type="user", resource_id=user.id, organization=user.organization_id, changes=changes
    )


@transaction.atomic
def user_create(
    *,
    email: str,
    name: str = "",
    user_type: str | None = None,
    organization=None,
    is_platform_admin: bool = False,
    is_active: bool = True,
    password: str | None = None,
):
    """Create a user. Without a password the account cannot sign in until one is set."""
    from bifrost_site.api.errors import ConflictError

    email = (email or "").strip().lower()
    if user_type is None:
        user_type = UserType.ORG if organization is not None else UserType.PLATFORM
    _check_tenancy(user_type=user_type, organization=organization, is_platform_admin=is_platform_admin)
    if User.objects.filter(email=email).exists():
        raise ConflictError(f"A user with email {email} already exists.", details={"email": email})
    user = User(
        email=email,
        name=name,
        user_type=user_type,
        organization=organization,
        is_platform_admin=is_platform_admin,
        is_active=is_active,
    )
    if password:
        _validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    user.save()
    from audit.services import diff, snapshot

    _user_audit("user.create", user, diff(None, snapshot(user, USER_FIELDS)))
    return user


@transaction.atomic
def user_update(*, user, data: dict, by) -> object:
    """Change email, name, is_active, is_platform_admin or organization. Nobody changes their own
    admin or active flag. The roles the user can no longer hold are dropped, in the same transaction and
    the same `user.update` audit entry (`role_ids` before and after): moving an ORG user to another
    organization drops their roles of the old one (GLOBAL roles stay); making a user a platform admin
    drops every role (platform admins hold none, DESIGN §4)."""
    from audit.services import diff, snapshot
    from bifrost_site.api.errors import ConflictError

    before = snapshot(user, USER_FIELDS)
    if by is not None and by.pk == user.pk:
        for flag in ("is_active", "is_platform_admin"):
            if flag in data and data[flag] != getattr(user, flag):
                raise exceptions.ValidationError({flag: [f"You cannot change your own {flag} flag."]})
    if "email" in data:
        email = data["email"].strip().lower()
        if email != user.email and User.objects.filter(email=email).exclude(id=user.id).exists():
            raise ConflictError(f"A user with email {email} already exists.", details={"email": email})
        user.email = email
    for field in ("name", "is_active", "is_platform_admin"):
        if field in data:
            setattr(user, field, data[field])
    if "organization" in data:
        user.organization = data["organization"]
    _check_tenancy(user_type=user.user_type, organization=user.organization, is_platform_admin=user.is_platform_admin)
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    user.save()
    if before["is_active"] and not user.is_active:
        user_sessions_end(user_ids=[user.id], reason="user.deactivate")
        user.refresh_from_db(fields=["token_version"])
    dropped = user_roles_unholdable_drop(user=user)
    changes = diff(before, snapshot(user, USER_FIELDS))
    if dropped:
        changes["before"]["role_ids"] = dropped["before"]
        changes["after"]["role_ids"] = dropped["after"]
    if changes["before"] or changes["after"]:
        _user_audit("user.update", user, changes)
    return user


@transaction.atomic
def user_roles_unholdable_drop(*, user) -> dict | None:
    """Remove the roles `user`, as saved, may no longer hold (`accounts.models.role_holding_problem`):
    every role of a platform admin, another organization's roles of a user who moved. Returns
    {"before": role ids held, "after": role ids kept} when something was removed, else None; the caller
    puts it in its audit entry. Every path that sets is_platform_admin or moves a user calls this."""
    from accounts.models import UserRole, role_holding_problem

    links = list(UserRole.objects.filter(user=user).select_related("role__organization"))
    gone = [link for link in links if role_holding_problem(user, link.role)]
    if not gone:
        return None
    UserRole.objects.filter(id__in=[link.id for link in gone]).delete()
    gone_ids = {link.id for link in gone}
    return {
        "before": sorted(str(link.role_id) for link in links),
        "after": sorted(str(link.role_id) for link in links if link.id not in gone_ids),
    }


@transaction.atomic
def user_deactivate(*, user, by) -> object:
    """DELETE /api/users/{id}: the account is deactivated, never removed, so executions and audit
    entries keep pointing at it. It can be reactivated with PATCH is_active=true."""
    if by is not None and by.pk == user.pk:
        raise exceptions.ValidationError({"id": ["You cannot delete your own account."]})
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
    _user_audit("user.deactivate", user, {"before": {"is_active": was_active}, "after": {"is_active": False}})
    user_sessions_end(user_ids=[user.id], reason="user.deactivate")
    user.refresh_from_db(fields=["token_version"])
    return user


@transaction.atomic
def user_set_password(*, user, password: str) -> None:
    _validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "token_version", "updated_at"])
    _user_audit("user.set_password", user, {"after": {"password": "***"}})
    user_sessions_end(user_ids=[user.id], reason="user.set_password")
    user.refresh_from_db(fields=["token_version"])


# --- roles ---


def _role_audit(action: str, role, changes: dict) -> None:
    audit.record(
        action=action, resource_type="role", resource_id=role.id, organization=role.organization_id, changes=changes
    )


def _ensure_role_name_free(*, name: str, organization_id, exclude_id=None) -> None:
    from accounts.models import Role
    from bifrost_site.api.errors import ConflictError

    clash = Role.objects.filter(organization_id=organization_id, name=name)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if clash.exists():
        raise ConflictError(f"A role named '{name}' already exists in this scope.", details={"name": name})


@transaction.atomic
def role_create(*, name: str, description: str = "", is_active: bool = True, organization=None):
    from accounts.models import Role
    from audit.services import diff, snapshot

    _ensure_role_name_free(name=name, organization_id=getattr(organization, "id", None))
    role = Role(name=name, description=description, is_active=is_active, organization=organization)
    role.full_clean(validate_unique=False, validate_constraints=False)
    role.save()
    _role_audit("role.create", role, diff(None, snapshot(role, ROLE_FIELDS)))
    return role


@transaction.atomic
def role_update(*, role, data: dict):
    from audit.services import diff, snapshot

    before = snapshot(role, ROLE_FIELDS)
    if "name" in data and data["name"] != role.name:
        _ensure_role_name_free(name=data["name"], organization_id=role.organization_id, exclude_id=role.id)
    for field in ("name", "description", "is_active"):
        if field in data:
            setattr(role, field, data[field])
    role.full_clean(validate_unique=False, validate_constraints=False)
    role.save()
    changes = diff(before, snapshot(role, ROLE_FIELDS))
    if changes["before"] or changes["after"]:
        _role_audit("role.update", role, changes)
    return role


@transaction.atomic
def role_delete(*, role) -> None:
    """Deletes the role with its memberships and form grants."""
    from audit.services import diff, snapshot

    before = snapshot(role, ROLE_FIELDS)
    before["user_ids"] = sorted(str(u) for u in role.user_roles.values_list("user_id", flat=True))
    before["form_ids"] = sorted(str(f) for f in role.form_roles.values_list("form_id", flat=True))
    _role_audit("role.delete", role, diff(before, None))
    role.delete()


def _missing(requested: list, found: set) -> list[str]:
    return sorted({str(x) for x in requested} - {str(x) for x in found})


@transaction.atomic
def role_users_add(*, role, user_ids: list, candidates, by=None) -> list:
    """Give the role to users. `candidates` is the user queryset visible in the caller's scope, so
    ids outside it are reported as unknown. Platform admins cannot hold roles; other platform users
    (MSP staff) hold GLOBAL roles only (approver roles, DESIGN §16); an organization's role only goes
    to users of that organization; a GLOBAL role may go to ORG users of any organization. Returns the
    users newly added (already-members are skipped)."""
    from accounts.models import UserRole

    if not user_ids:
        raise exceptions.ValidationError({"user_ids": ["Give at least one user id."]})
    # Platform users are named whatever the scope (only platform admins reach this), so the
    # answer says why rather than "unknown".
    named = User.objects.filter(id__in=user_ids)
    admins = sorted(named.filter(is_platform_admin=True).values_list("email", flat=True))
    if admins:
        raise exceptions.ValidationError(
            {"user_ids": [f"Platform admins cannot be given roles (they see everything): {', '.join(admins)}."]}
        )
    platform = sorted(named.exclude(user_type=UserType.ORG).values_list("email", flat=True))
    if platform and role.organization_id is not None:
        raise exceptions.ValidationError(
            {"user_ids": [f"Platform users may only hold GLOBAL roles, not an organization's: {', '.join(platform)}."]}
        )
    users = list(candidates.filter(id__in=user_ids))
    missing = _missing(user_ids, {u.id for u in users})
    if missing:
        raise exceptions.ValidationError({"user_ids": [f"Unknown users: {', '.join(missing)}."]})
    if role.organization_id is not None:
        foreign = sorted(u.email for u in users if u.organization_id != role.organization_id)
        if foreign:
            raise exceptions.ValidationError(
                {"user_ids": [f"These users belong to another organization than the role: {', '.join(foreign)}."]}
            )
    existing = set(
        UserRole.objects.filter(role=role, user_id__in=[u.id for u in users]).values_list("user_id", flat=True)
    )
    added = [u for u in users if u.id not in existing]
    UserRole.objects.bulk_create(
        [UserRole(role=role, user=u, assigned_by=by if getattr(by, "is_authenticated", False) else None) for u in added]
    )
    if added:
        _role_audit("role.users_add", role, {"after": {"user_ids": sorted(str(u.id) for u in added)}})
    return added


@transaction.atomic
def role_user_remove(*, role, user) -> None:
    from accounts.models import UserRole

    deleted, _ = UserRole.objects.filter(role=role, user=user).delete()
    if not deleted:
        raise exceptions.NotFound("This user does not have this role.")
    _role_audit("role.users_remove", role, {"before": {"user_ids": [str(user.id)]}})


@transaction.atomic
def role_forms_add(*, role, form_ids: list, candidates, by=None) -> list:
    """Grant the role access to forms. `candidates` is the form queryset visible in the caller's
    scope (the organization's forms and the GLOBAL ones)."""
    from forms_app.models import FormRole

    if not form_ids:
        raise exceptions.ValidationError({"form_ids": ["Give at least one form id."]})
    forms = list(candidates.filter(id__in=form_ids))
    missing = _missing(form_ids, {f.id for f in forms})
    if missing:
        raise exceptions.ValidationError({"form_ids": [f"Unknown forms: {', '.join(missing)}."]})
    if role.organization_id is not None:
        foreign = sorted(f.name for f in forms if f.organization_id not in (None, role.organization_id))
        if foreign:
            raise exceptions.ValidationError(
                {"form_ids": [f"These forms belong to another organization than the role: {', '.join(foreign)}."]}
            )
    existing = set(
        FormRole.objects.filter(role=role, form_id__in=[f.id for f in forms]).values_list("form_id", flat=True)
    )
    added = [f for f in forms if f.id not in existing]
    FormRole.objects.bulk_create(
        [FormRole(role=role, form=f, assigned_by=by if getattr(by, "is_authenticated", False) else None) for f in added]
    )
    if added:
        _role_audit("role.forms_add", role, {"after": {"form_ids": sorted(str(f.id) for f in added)}})
    return added


@transaction.atomic
def role_form_remove(*, role, form) -> None:
    from forms_app.models import FormRole

    deleted, _ = FormRole.objects.filter(role=role, form=form).delete()
    if not deleted:
        raise exceptions.NotFound("This role has no access to this form.")
    _role_audit("role.forms_remove", role, {"before": {"form_ids": [str(form.id)]}})


def revoked_access_tokens_prune() -> int:
    """Delete revocations of access tokens past their expiry: such a token fails the expiry check anyway."""
    deleted, _ = RevokedAccessToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


# --- personal API tokens (DESIGN §17) ---

PERSONAL_TOKEN_MAX_DAYS = 366  # "up to a year", leap years included


@dataclass(frozen=True)
class CreatedPersonalToken:
    token: object
    raw_token: str


def personal_token_masked(token) -> str:
    return f"{token.prefix}…"


@transaction.atomic
def personal_token_create(*, user, name: str, expires_at) -> CreatedPersonalToken:
    """A new personal token for `user`; the raw token is only in the return value."""
    import secrets

    from accounts.authentication import PERSONAL_TOKEN_PREFIX, PERSONAL_TOKEN_VISIBLE_CHARS, personal_token_hash
    from accounts.models import PersonalToken

    now = timezone.now()
    if expires_at <= now:
        raise exceptions.ValidationError({"expires_at": ["The expiry must be in the future."]})
    if expires_at > now + datetime.timedelta(days=PERSONAL_TOKEN_MAX_DAYS):
        raise exceptions.ValidationError({"expires_at": ["A personal token expires within a year."]})
    name = (name or "").strip()
    if not name:
        raise exceptions.ValidationError({"name": ["Give the token a name."]})
    raw_token = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = PersonalToken.objects.create(
        user=user,
        name=name,
        prefix=raw_token[:PERSONAL_TOKEN_VISIBLE_CHARS],
        token_hash=personal_token_hash(raw_token),
        expires_at=expires_at,
    )
    audit.record(
        action="personal_token.create",
        resource_type="personal_token",
        resource_id=token.id,
        actor=user,
        organization=user.organization_id,
        changes={
            "after": {"name": name, "expires_at": expires_at.isoformat(), "masked_token": personal_token_masked(token)}
        },
    )
    return CreatedPersonalToken(token=token, raw_token=raw_token)


@transaction.atomic
def personal_token_revoke(*, token, by=None):
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            action="personal_token.revoke",
            resource_type="personal_token",
            resource_id=token.id,
            actor=by,
            organization=token.user.organization_id,
            changes={"before": {"revoked_at": None}, "after": {"revoked_at": token.revoked_at.isoformat()}},
        )
        from bifrost_site.ws_auth import personal_token_sockets_close

        token_id = token.id
        transaction.on_commit(lambda: personal_token_sockets_close(token_id))  # its WebSockets close at once
    return token


def password_change(*, user, current_password: str, new_password: str, ip: str | None) -> None:
    """`POST /auth/password`: one's own password. A wrong current password counts toward the sign-in
    lock-out; the new one ends every session of the user (DESIGN §17)."""
    key = login_failure_key(ip, user.email)
    if login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
        raise LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    if not user.check_password(current_password):
        login_failure_record(key)
        audit.record(
            action="auth.password_change_failed",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            organization=user.organization_id,
        )
        raise exceptions.ValidationError({"current_password": ["This is not your current password."]})
    try:
        _validate_password(new_password, user)
    except exceptions.ValidationError as exc:
        raise exceptions.ValidationError({"new_password": exc.detail["password"]}) from None
    user_set_password(user=user, password=new_password)
