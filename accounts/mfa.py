"""Multi-factor authentication (DESIGN §17): TOTP, recovery codes, the `mfa_token` of a sign-in.

A sign-in whose password is right but that still needs a second factor gets an `mfa_token` instead
of tokens: a signed, 5-minute value naming the user, what is asked of them (`mfa`: give a code;
`setup`: enrol first) and the user's token version (ending their sessions voids it). Wrong codes
count toward the same lock-out as wrong passwords (accounts.services.login_failure_*).

Why not allauth.mfa: its TOTP and recovery-code checks live in `allauth.mfa.*.internal` modules
(not a public API), it stores recovery codes as one seed rather than hashed codes, and its
sign-in stage is tied to its own session-based views. pyotp, qrcode and fido2 are used directly
(docs/identity.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
from accounts import services

User = get_user_model()

MFA_TOKEN_SALT = "bifrost.accounts.mfa-token"
MFA_TOKEN_MAX_AGE_SECONDS = 300
PURPOSE_VERIFY = "mfa"  # the user has MFA: give a code (or a passkey)
PURPOSE_SETUP = "setup"  # the user must enrol before any token is issued
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Bifrost"
TOTP_VALID_WINDOW = 1  # one 30 s step either side: clocks drift


# --- what a sign-in answers when a second factor is due ---


@dataclass(frozen=True)
class MFAChallenge:
    mfa_token: str
    methods: list[str] = field(default_factory=list)

    def as_response(self) -> dict:
        return {"mfa_required": True, "mfa_token": self.mfa_token, "methods": self.methods}


@dataclass(frozen=True)
class MFASetupRequired:
    mfa_token: str

    def as_response(self) -> dict:
        return {"mfa_setup_required": True, "mfa_token": self.mfa_token}


def mfa_token_issue(*, user, purpose: str) -> str:
    payload = {"u": str(user.id), "p": purpose, "v": user.token_version, "n": secrets.token_hex(8)}
    return signing.dumps(payload, salt=MFA_TOKEN_SALT)


def mfa_token_user(mfa_token: str, *, purposes: tuple[str, ...]):
    """The user an `mfa_token` was issued to, or 401 (bad signature, expired, wrong purpose, sessions
    ended since, user or organization inactive)."""
    if not isinstance(mfa_token, str):
        raise exceptions.AuthenticationFailed("Invalid or expired mfa_token; sign in again.")
    try:
        payload = signing.loads(mfa_token, salt=MFA_TOKEN_SALT, max_age=MFA_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        raise exceptions.AuthenticationFailed("Invalid or expired mfa_token; sign in again.") from None
    if payload.get("p") not in purposes:
        raise exceptions.AuthenticationFailed("This mfa_token is not valid for this step; sign in again.")
    user = User.objects.select_related("organization").filter(id=payload.get("u")).first()
    if user is None or user.token_version != payload.get("v"):
        raise exceptions.AuthenticationFailed("Invalid or expired mfa_token; sign in again.")
    try:
        services.check_user_may_sign_in(user)
    except exceptions.PermissionDenied as exc:
        raise exceptions.AuthenticationFailed(str(exc.detail)) from None
    return user


# --- state ---


def user_methods(user) -> list[str]:
    """The second factors the user has: "totp", "recovery_code", "passkey"."""
    from accounts.models import Passkey, RecoveryCode, TotpDevice

    methods = []
    if TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        methods.append("totp")
    has_passkey = Passkey.objects.filter(user=user).exists()
    if (methods or has_passkey) and RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
        methods.append("recovery_code")
    if has_passkey:
        methods.append("passkey")
    return methods


def user_has_mfa(user) -> bool:
    return bool(set(user_methods(user)) & {"totp", "passkey"})


def mfa_required_for(user) -> bool:
    """`Organization.require_mfa` for ORG users, `REQUIRE_MFA_FOR_PLATFORM_ADMINS` for platform admins."""
    if user.is_platform_admin:
        return bool(settings.REQUIRE_MFA_FOR_PLATFORM_ADMINS)
    organization = user.organization if user.organization_id else None
    return bool(getattr(organization, "require_mfa", False))


def sign_in_result(*, user):
    """What a sign-in whose password (or SSO) was right answers: tokens, a challenge or a setup demand."""
    methods = user_methods(user)
    if set(methods) & {"totp", "passkey"}:
        return MFAChallenge(mfa_token=mfa_token_issue(user=user, purpose=PURPOSE_VERIFY), methods=methods)
    if mfa_required_for(user):
        return MFASetupRequired(mfa_token=mfa_token_issue(user=user, purpose=PURPOSE_SETUP))
    return services.tokens_issue(user=user)


# --- TOTP ---


def _totp(secret: str):
    import pyotp

    return pyotp.TOTP(secret)


def totp_step_matching(secret: str, code: str, *, after_step: int | None) -> int | None:
    """The time step whose code `code` is (within the window), if later than `after_step`."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = _totp(secret)
    now_step = totp.timecode(timezone.now())
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (after_step is None or step > after_step):
            return step
    return None


def otpauth_uri(*, user, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def qr_svg(data: str) -> str:
    import qrcode
    import qrcode.image.svg

    return qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str

    def as_response(self) -> dict:
        return {"secret": self.secret, "otpauth_uri": self.otpauth_uri, "qr_svg": self.qr_svg}


@transaction.atomic
def totp_begin(*, user) -> TotpEnrolment:
    """A new, unconfirmed secret (replacing an unconfirmed one); 409 while a confirmed one exists."""
    import pyotp

    from accounts.models import TotpDevice
    from bifrost_site.api.errors import ConflictError

    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        raise ConflictError("An authenticator app is already set up; remove it first to set up another.")
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(user=user, defaults={"secret": secret, "confirmed_at": None})
    uri = otpauth_uri(user=user, secret=secret)
    return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))


@transaction.atomic
def totp_confirm(*, user, code: str, ip: str | None) -> list[str]:
    """Confirm the pending secret with a code: MFA is on. Returns the 10 recovery codes (shown once).

    Turning MFA on ends the user's sessions (DESIGN §17); the caller hands out a new pair."""
    from accounts.models import TotpDevice

    key = _failure_key(user, ip)
    _check_not_locked(key, user)
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise exceptions.ValidationError({"code": ["Start the set-up first (POST /auth/mfa/totp)."]})
    step = totp_step_matching(device.secret, code, after_step=None)
    if step is None:
        failure_record(key, user, "totp_confirm")
        raise exceptions.ValidationError({"code": ["That code is not right; check the time on your device."]})
    device.confirmed_at = timezone.now()
    device.last_used_step = step
    device.save(update_fields=["confirmed_at", "last_used_step", "updated_at"])
    codes = recovery_codes_replace(user)
    _mfa_audit("mfa.totp_enable", user)
    services.user_sessions_end(user_ids=[user.id], reason="mfa.enable")
    user.refresh_from_db(fields=["token_version"])
    return codes


@transaction.atomic
def totp_remove(*, user) -> None:
    from accounts.models import Passkey, RecoveryCode, TotpDevice

    deleted, _ = TotpDevice.objects.filter(user=user).delete()
    if not deleted:
        raise exceptions.NotFound("No authenticator app is set up.")
    if mfa_required_for(user) and not Passkey.objects.filter(user=user).exists():
        raise exceptions.ValidationError(
            {"detail": ["Multi-factor authentication is required for this account: add a passkey first."]}
        )
    if not Passkey.objects.filter(user=user).exists():
        RecoveryCode.objects.filter(user=user).delete()
    _mfa_audit("mfa.totp_disable", user)


# --- recovery codes ---


def recovery_code_hash(code: str) -> str:
    normalized = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def _recovery_code_new() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def recovery_codes_replace(user) -> list[str]:
    from accounts.models import RecoveryCode

    RecoveryCode.objects.filter(user=user).delete()
    codes = [_recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=recovery_code_hash(c)) for c in codes])
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user) -> list[str]:
    if not user_has_mfa(user):
        raise exceptions.ValidationError({"detail": ["Set up an authenticator app or a passkey first."]})
    codes = recovery_codes_replace(user)
    _mfa_audit("mfa.recovery_codes_regenerate", user)
    return codes


# --- the second step of a sign-in ---


def _failure_key(user, ip) -> str:
    return services.login_failure_key(ip, user.email)


def _check_not_locked(key: str, user) -> None:
    if services.login_failures(key) >= settings.LOGIN_FAILURE_LIMIT:
        audit.record(action="auth.login_throttled", resource_type="user", resource_id=user.id, actor_name=user.email)
        raise services.LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def failure_record(key: str, user, reason: str) -> None:
    services.login_failure_record(key)
    audit.record(
        action="auth.login_failed",
        resource_type="user",
        resource_id=user.id,
        actor_name=user.email,
        organization=user.organization_id,
        changes={"reason": reason},
    )


def code_verify(*, user, code: str) -> str | None:
    """Accept a TOTP code (once per step) or an unused recovery code (spent). Returns the method, or None."""
    from accounts.models import RecoveryCode, TotpDevice

    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is not None:
            step = totp_step_matching(device.secret, code, after_step=device.last_used_step)
            if step is not None:
                device.last_used_step = step
                device.save(update_fields=["last_used_step", "updated_at"])
                return "totp"
        spent = RecoveryCode.objects.filter(user=user, code_hash=recovery_code_hash(code), used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if spent:
            return "recovery_code"
    return None


def mfa_complete(*, mfa_token: str, ip: str | None, code: str = "", credential=None, state: str = "", rp_id: str = ""):
    """`POST /auth/mfa`: the code (or passkey assertion) of a user challenged at sign-in → a token pair."""
    user = mfa_token_user(mfa_token, purposes=(PURPOSE_VERIFY,))
    key = _failure_key(user, ip)
    _check_not_locked(key, user)
    if credential is not None:
        from accounts import passkeys

        method = (
            "passkey" if passkeys.passkey_verify(user=user, credential=credential, state=state, rp_id=rp_id) else None
        )
    else:
        method = code_verify(user=user, code=code)
    if method is None:
        failure_record(key, user, "invalid_mfa_code")
        raise exceptions.AuthenticationFailed(
            "The passkey was not accepted." if credential is not None else "That code is not right."
        )
    return sign_in_finish(user=user, key=key, method=method)


def sign_in_finish(*, user, key: str | None, method: str):
    if key:
        services.login_failures_clear(key)
    User.objects.filter(id=user.id).update(last_login=timezone.now())
    audit.record(
        action="auth.login",
        resource_type="user",
        resource_id=user.id,
        actor=user,
        organization=user.organization_id,
        changes={"mfa": method},
    )
    return services.tokens_issue(user=user)


def _mfa_audit(action: str, user) -> None:
    audit.record(action=action, resource_type="user", resource_id=user.id, organization=user.organization_id)


# --- a platform admin resets a user's second factors (docs/identity.md) ---


def mfa_summary(user) -> dict:
    """What second factors the user has, without any secret: for the admin's page and the audit entry."""
    from accounts.models import Passkey, RecoveryCode, TotpDevice

    return {
        "totp": TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists(),
        "passkeys": list(Passkey.objects.filter(user=user).order_by("created_at").values_list("name", flat=True)),
        "recovery_codes_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
    }


@transaction.atomic
def mfa_reset(*, user, by) -> dict:
    """A platform admin removes every second factor of another user (a lost phone and security key): the
    authenticator app (set up or pending), the recovery codes and the passkeys. The user's sessions end
    (tokens, refresh tokens, WebSockets, other browsers: DESIGN §17); their personal API tokens stay, as for
    a new password. A user for whom MFA is required enrols again at the next sign-in. Audited as
    `mfa.reset` with what was removed (names and counts, never a secret). Returns that summary."""
    from accounts.models import Passkey, RecoveryCode, TotpDevice

    if by is None or not getattr(by, "is_platform_admin", False):
        raise exceptions.PermissionDenied("Only a platform admin may reset another user's second factors.")
    if by.pk == user.pk:
        raise exceptions.ValidationError(
            {"user": ["Reset your own second factors on your account page (/account/), not here."]}
        )
    before = mfa_summary(user)
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    services.user_sessions_end(user_ids=[user.id], reason="mfa.reset")
    audit.record(
        action="mfa.reset",
        resource_type="user",
        resource_id=user.id,
        actor=by,
        organization=user.organization_id,
        changes={
            "before": before,
            "after": {"totp": False, "passkeys": [], "recovery_codes_left": 0},
            "mfa_required": mfa_required_for(user),
        },
    )
    user.refresh_from_db(fields=["token_version"])
    return before
