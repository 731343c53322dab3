"""WebAuthn passkeys (DESIGN §17) with the `fido2` server: register several, name them, remove them,
and use one as the second factor of a sign-in.

The ceremony's state (the challenge) travels signed: `registration_options`/`authentication_options`
return it with the browser's options, and the answer brings it back. Each challenge is accepted once
(a cache entry marks it spent; if the cache cannot answer, the passkey is refused rather than a
replay risked). The relying party id is WEBAUTHN_RP_ID, else the request's host name: passkeys are
bound to it, and the origin the browser reports must be https (or http://localhost) on that host.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
from accounts import mfa, services

STATE_SALT = "bifrost.accounts.webauthn-state"
STATE_MAX_AGE_SECONDS = 300


def rp_id_for(request) -> str:
    return settings.WEBAUTHN_RP_ID or request.get_host().rsplit(":", 1)[0].strip("[]")


def origin_allowed(origin: str, rp_id: str) -> bool:
    """Stricter than WebAuthn's rule (which accepts any subdomain of the RP id): the page must be on the
    RP id's host itself, over https, or http on localhost (browsers treat it as a secure context)."""
    from urllib.parse import urlsplit

    parts = urlsplit(origin or "")
    if parts.hostname != rp_id:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and rp_id == "localhost")


def _server(rp_id: str):
    from fido2.server import Fido2Server
    from fido2.webauthn import PublicKeyCredentialRpEntity

    return Fido2Server(
        PublicKeyCredentialRpEntity(id=rp_id, name=settings.WEBAUTHN_RP_NAME),
        verify_origin=lambda origin: origin_allowed(origin, rp_id),
    )


def _credential_data(passkey):
    from fido2.utils import websafe_decode
    from fido2.webauthn import AttestedCredentialData

    return AttestedCredentialData(websafe_decode(passkey.credential_data))


def _state_dump(state: dict, *, user, kind: str, rp_id: str) -> str:
    return signing.dumps(
        {"s": state, "u": str(user.id) if user else "", "k": kind, "r": rp_id, "n": secrets.token_hex(8)},
        salt=STATE_SALT,
    )


def _state_load(token: str, *, user, kind: str, rp_id: str) -> dict:
    try:
        payload = signing.loads(token or "", salt=STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature:
        raise exceptions.ValidationError({"state": ["The passkey request expired; try again."]}) from None
    if payload.get("k") != kind or payload.get("u") != str(user.id) or payload.get("r") != rp_id:
        raise exceptions.ValidationError({"state": ["This passkey request is not for this step; try again."]})
    try:
        fresh = cache.add(f"webauthn-challenge:{payload['s']['challenge']}", 1, timeout=STATE_MAX_AGE_SECONDS)
    except Exception:
        fresh = False
    if not fresh:
        raise exceptions.ValidationError({"state": ["This passkey request was already used; try again."]})
    return payload["s"]


def _as_json(options) -> dict:
    return json.loads(json.dumps(dict(options)))


# --- registration ---


def registration_options(*, user, rp_id: str) -> dict:
    from fido2.webauthn import PublicKeyCredentialUserEntity

    from accounts.models import Passkey

    existing = [_credential_data(p) for p in Passkey.objects.filter(user=user)]
    options, state = _server(rp_id).register_begin(
        PublicKeyCredentialUserEntity(id=user.id.bytes, name=user.email, display_name=user.display_name),
        credentials=existing,
        resident_key_requirement="preferred",
        user_verification="preferred",
    )
    return {"options": _as_json(options), "state": _state_dump(state, user=user, kind="register", rp_id=rp_id)}


@transaction.atomic
def passkey_register(*, user, name: str, credential: dict, state: str, rp_id: str):
    """Verify the browser's answer and keep the credential. The first second factor turns MFA on:
    the user's sessions end and 10 recovery codes come back with it (else an empty list)."""
    from fido2.utils import websafe_encode

    from accounts.models import Passkey

    name = (name or "").strip() or "Passkey"
    server_state = _state_load(state, user=user, kind="register", rp_id=rp_id)
    try:
        auth_data = _server(rp_id).register_complete(server_state, credential)
    except (ValueError, KeyError, TypeError) as exc:
        raise exceptions.ValidationError({"credential": [f"The passkey could not be verified: {exc}"]}) from None
    attested = auth_data.credential_data
    had_mfa = mfa.user_has_mfa(user)
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user,
                name=name[:100],
                credential_id=websafe_encode(attested.credential_id),
                credential_data=websafe_encode(bytes(attested)),
                sign_count=auth_data.counter,
            )
    except IntegrityError:
        raise exceptions.ValidationError({"credential": ["This passkey is already registered."]}) from None
    audit.record(
        action="mfa.passkey_add",
        resource_type="user",
        resource_id=user.id,
        organization=user.organization_id,
        changes={"after": {"passkey": passkey.name}},
    )
    codes: list[str] = []
    if not had_mfa:
        codes = mfa.recovery_codes_replace(user)
        services.user_sessions_end(user_ids=[user.id], reason="mfa.enable")
        user.refresh_from_db(fields=["token_version"])
    return passkey, codes


@transaction.atomic
def passkey_remove(*, user, passkey) -> None:
    from accounts.models import Passkey, RecoveryCode, TotpDevice

    name = passkey.name
    passkey.delete()
    totp = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    if not totp and not Passkey.objects.filter(user=user).exists():
        if mfa.mfa_required_for(user):
            raise exceptions.ValidationError(
                {"detail": ["Multi-factor authentication is required for this account: keep one factor."]}
            )
        RecoveryCode.objects.filter(user=user).delete()
    audit.record(
        action="mfa.passkey_remove",
        resource_type="user",
        resource_id=user.id,
        organization=user.organization_id,
        changes={"before": {"passkey": name}},
    )


# --- sign-in ---


def authentication_options(*, user, rp_id: str) -> dict:
    from accounts.models import Passkey

    credentials = [_credential_data(p) for p in Passkey.objects.filter(user=user)]
    if not credentials:
        raise exceptions.ValidationError({"detail": ["This account has no passkey."]})
    options, state = _server(rp_id).authenticate_begin(credentials, user_verification="preferred")
    return {"options": _as_json(options), "state": _state_dump(state, user=user, kind="authenticate", rp_id=rp_id)}


def passkey_verify(*, user, credential: dict, state: str, rp_id: str) -> bool:
    """True when `credential` is a valid assertion by one of the user's passkeys for this state."""
    from fido2.utils import websafe_encode

    from accounts.models import Passkey

    server_state = _state_load(state, user=user, kind="authenticate", rp_id=rp_id)
    passkeys = list(Passkey.objects.filter(user=user))
    by_id = {p.credential_id: p for p in passkeys}
    try:
        used = _server(rp_id).authenticate_complete(server_state, [_credential_data(p) for p in passkeys], credential)
    except (ValueError, KeyError, TypeError):
        return False
    passkey = by_id.get(websafe_encode(used.credential_id))
    if passkey is not None:
        Passkey.objects.filter(id=passkey.id).update(last_used_at=timezone.now())
    return passkey is not None
