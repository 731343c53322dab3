"""Single sign-on with OpenID Connect (DESIGN §17): one provider per organization (OrganizationSSO)
and one for the MSP's own staff (PLATFORM_SSO_* settings).

The flow is the authorization code flow with PKCE (S256), a `state` and a `nonce` kept in the browser
session (each used once). The ID token comes from the token endpoint and is verified here against the
provider's JWKS: RS256/ES256 signature, `iss` equal to the configured issuer, `aud` holding our
client id, `exp` in the future (60 s leeway), and the `nonce` of this very sign-in. The email in it
must be in one of the provider's domains; a user who does not exist yet is created in the provider's
organization with its default roles (just in time); a platform provider's `admin_group` value in the
groups claim makes a platform admin.

Built on joserfc (Authlib's JOSE library) and requests rather than django-allauth: docs/identity.md.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction

import audit

User = get_user_model()

SESSION_KEY = "bifrost_sso_pending"
PENDING_MAX_AGE_SECONDS = 600
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10
METADATA_CACHE_SECONDS = 3600
ALGORITHMS = ["RS256", "ES256"]
PLATFORM = "platform"


class SSOError(Exception):
    """A sign-in refused; the message is shown to the person on the page."""


@dataclass(frozen=True)
class Provider:
    key: str  # "org:<uuid>" or "platform"
    issuer: str
    client_id: str
    client_secret: str
    email_domains: tuple[str, ...]
    organization: object | None = None
    default_role_ids: tuple = ()
    enforce: bool = False
    admin_group: str = ""
    groups_claim: str = "groups"
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.organization.name if self.organization is not None else "your organization"


def normalize_issuer(value: str) -> str:
    value = (value or "").strip()
    suffix = "/.well-known/openid-configuration"
    if value.endswith(suffix):
        value = value[: -len(suffix)]
    return value.rstrip("/")


def issuer_problem(value: str) -> str | None:
    """Why this issuer cannot be used, or None: https, or http on a loopback host (development, tests)."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"):
        return None
    return "The issuer must be an https:// URL."


def email_domain(email: str) -> str:
    return (email or "").strip().lower().rpartition("@")[2]


# --- providers ---


def platform_provider() -> Provider | None:
    if not (settings.PLATFORM_SSO_ISSUER and settings.PLATFORM_SSO_CLIENT_ID):
        return None
    return Provider(
        key=PLATFORM,
        issuer=normalize_issuer(settings.PLATFORM_SSO_ISSUER),
        client_id=settings.PLATFORM_SSO_CLIENT_ID,
        client_secret=settings.PLATFORM_SSO_CLIENT_SECRET,
        email_domains=tuple(d.lower() for d in settings.PLATFORM_SSO_EMAIL_DOMAINS),
        enforce=settings.PLATFORM_SSO_ENFORCE,
        admin_group=settings.PLATFORM_SSO_ADMIN_GROUP,
        groups_claim=settings.PLATFORM_SSO_GROUPS_CLAIM,
    )


def organization_provider(sso) -> Provider:
    return Provider(
        key=f"org:{sso.organization_id}",
        issuer=normalize_issuer(sso.issuer),
        client_id=sso.client_id,
        client_secret=sso.client_secret,
        email_domains=tuple(sso.email_domains or ()),
        organization=sso.organization,
        default_role_ids=tuple(sso.default_roles.values_list("id", flat=True)),
        enforce=sso.enforce,
    )


def provider_for_email(email: str) -> Provider | None:
    """The provider that owns the email's domain: an active organization's, else the platform's."""
    from accounts.models import OrganizationSSO

    domain = email_domain(email)
    if not domain:
        return None
    for sso in OrganizationSSO.objects.select_related("organization").filter(
        is_active=True, organization__is_active=True, email_domains__contains=[domain]
    ):
        return organization_provider(sso)
    platform = platform_provider()
    if platform is not None and domain in platform.email_domains:
        return platform
    return None


def provider_by_key(key: str) -> Provider | None:
    from accounts.models import OrganizationSSO

    if key == PLATFORM:
        return platform_provider()
    organization_id = key.removeprefix("org:")
    sso = (
        OrganizationSSO.objects.select_related("organization")
        .filter(organization_id=organization_id, is_active=True, organization__is_active=True)
        .first()
    )
    return organization_provider(sso) if sso else None


def password_sign_in_refused(*, email: str, user=None) -> str | None:
    """Why a password may not be used for this email or user (an enforcing provider), or None."""
    provider = provider_for_email(email)
    if provider is not None and provider.enforce:
        return f"{provider.label} signs in with single sign-on: use “Sign in with SSO”."
    if user is not None and user.organization_id is not None:
        sso = getattr(user.organization, "sso", None) if _has_sso(user.organization) else None
        if sso is not None and sso.is_active and sso.enforce:
            return f"{user.organization.name} signs in with single sign-on: use “Sign in with SSO”."
    return None


def _has_sso(organization) -> bool:
    from accounts.models import OrganizationSSO

    try:
        return organization.sso is not None
    except OrganizationSSO.DoesNotExist:
        return False


# --- provider metadata ---


def _get_json(url: str) -> dict:
    import requests

    response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS)
    response.raise_for_status()
    return response.json()


def metadata(issuer: str, *, fresh: bool = False) -> dict:
    key = "sso-metadata:" + hashlib.sha256(issuer.encode()).hexdigest()[:32]
    if not fresh:
        try:
            cached = cache.get(key)
        except Exception:
            cached = None
        if cached:
            return cached
    try:
        document = _get_json(issuer + "/.well-known/openid-configuration")
    except Exception as exc:
        raise SSOError(f"The sign-in provider could not be reached ({type(exc).__name__}); try again later.") from None
    if normalize_issuer(document.get("issuer", "")) != issuer:
        raise SSOError("The sign-in provider's discovery document names another issuer.")
    try:
        cache.set(key, document, timeout=METADATA_CACHE_SECONDS)
    except Exception:
        pass
    return document


def _key_set(jwks_uri: str, *, fresh: bool = False):
    from joserfc.jwk import KeySet

    key = "sso-jwks:" + hashlib.sha256(jwks_uri.encode()).hexdigest()[:32]
    document = None
    if not fresh:
        try:
            document = cache.get(key)
        except Exception:
            document = None
    if not document:
        try:
            document = _get_json(jwks_uri)
        except Exception as exc:
            raise SSOError(f"The sign-in provider's keys could not be read ({type(exc).__name__}).") from None
        try:
            cache.set(key, document, timeout=METADATA_CACHE_SECONDS)
        except Exception:
            pass
    return KeySet.import_key_set(document)


# --- the flow ---


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def sign_in_begin(*, request, provider: Provider, email: str, next_url: str, redirect_uri: str) -> str:
    """Remember state, nonce and PKCE verifier in the session; return the provider's authorization URL."""
    document = metadata(provider.issuer)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier, challenge = _pkce_pair()
    pending = {
        k: v
        for k, v in (request.session.get(SESSION_KEY) or {}).items()
        if time.time() - v.get("at", 0) < PENDING_MAX_AGE_SECONDS
    }
    pending[state] = {
        "provider": provider.key,
        "nonce": nonce,
        "verifier": verifier,
        "next": next_url,
        "redirect_uri": redirect_uri,
        "at": time.time(),
    }
    request.session[SESSION_KEY] = pending
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if email:
        query["login_hint"] = email
    return document["authorization_endpoint"] + "?" + urlencode(query)


def _exchange_code(*, provider: Provider, document: dict, code: str, verifier: str, redirect_uri: str) -> dict:
    import requests

    try:
        response = requests.post(
            document["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
            },
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise SSOError(f"The sign-in provider could not be reached ({type(exc).__name__}).") from None
    if response.status_code != 200:
        raise SSOError("The sign-in provider refused the sign-in code; start again.")
    try:
        return response.json()
    except ValueError:
        raise SSOError("The sign-in provider answered with something other than JSON.") from None


def id_token_claims(*, provider: Provider, id_token: str, nonce: str) -> dict:
    """The verified claims of an ID token, or SSOError (bad signature, issuer, audience, expiry, nonce)."""
    from joserfc import jwt
    from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError

    document = metadata(provider.issuer)
    try:
        try:
            token = jwt.decode(id_token, _key_set(document["jwks_uri"]), algorithms=ALGORITHMS)
        except (ValueError, JoseError):
            # the provider may have rotated its keys since they were cached
            token = jwt.decode(id_token, _key_set(document["jwks_uri"], fresh=True), algorithms=ALGORITHMS)
    except BadSignatureError:
        raise SSOError("The sign-in could not be verified: the ID token's signature is wrong.") from None
    except (ValueError, JoseError) as exc:
        raise SSOError(f"The sign-in could not be verified: the ID token is unreadable ({exc}).") from None
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        exp={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise SSOError("The sign-in could not be verified: the ID token has expired.") from None
    except JoseError as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        raise SSOError(f"The sign-in could not be verified: wrong {_claim_name(claim)} in the ID token.") from None
    audience = token.claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and token.claims.get("azp") != provider.client_id:
        raise SSOError("The sign-in could not be verified: the ID token was issued to another client.")
    return token.claims


def _claim_name(claim: str) -> str:
    return {"iss": "issuer", "aud": "audience", "nonce": "nonce", "sub": "subject", "exp": "expiry"}.get(claim, claim)


def sign_in_complete(*, request, state: str, code: str, error: str = ""):
    """The provider sent the browser back: verify everything and return the user (created if new)."""
    pending = (request.session.get(SESSION_KEY) or {}).copy()
    entry = pending.pop(state or "", None)
    request.session[SESSION_KEY] = pending  # a state is used once, whatever happens next
    if entry is None or time.time() - entry.get("at", 0) > PENDING_MAX_AGE_SECONDS:
        raise SSOError("This sign-in link has expired or was already used; start again.")
    if error:
        raise SSOError(f"The sign-in provider refused: {error}.")
    provider = provider_by_key(entry["provider"])
    if provider is None:
        raise SSOError("Single sign-on is no longer set up for this organization.")
    document = metadata(provider.issuer)
    tokens = _exchange_code(
        provider=provider, document=document, code=code, verifier=entry["verifier"], redirect_uri=entry["redirect_uri"]
    )
    if not tokens.get("id_token"):
        raise SSOError("The sign-in provider sent no ID token.")
    claims = id_token_claims(provider=provider, id_token=tokens["id_token"], nonce=entry["nonce"])
    user = user_for_claims(provider=provider, claims=claims)
    return user, entry.get("next") or ""


@transaction.atomic
def user_for_claims(*, provider: Provider, claims: dict):
    """The user these verified claims name; created just in time, or refused with a clear reason."""
    from accounts.authentication import check_user_may_sign_in
    from accounts.models import Role, UserRole, UserType

    email = (claims.get("email") or "").strip().lower()
    if not email:
        raise SSOError("The sign-in provider did not send an email address.")
    if claims.get("email_verified") is False:
        raise SSOError(f"The sign-in provider has not verified {email}.")
    domain = email_domain(email)
    if domain not in provider.email_domains:
        raise SSOError(f"{domain} is not a domain of {provider.label}: this sign-in is refused.")
    user = User.objects.select_related("organization").select_for_update(of=("self",)).filter(email=email).first()
    name = (claims.get("name") or "").strip()[:200]
    groups = claims.get(provider.groups_claim) or []
    groups = [groups] if isinstance(groups, str) else list(groups)
    if provider.organization is not None:
        if user is not None and user.organization_id != provider.organization.id:
            raise SSOError(f"{email} belongs to another organization than {provider.label}.")
        if user is None:
            user = User.objects.create_user(
                email, None, name=name, organization=provider.organization, user_type=UserType.ORG
            )
            roles = Role.objects.filter(id__in=provider.default_role_ids).filter(
                models_q_org_or_global(provider.organization.id)
            )
            UserRole.objects.bulk_create([UserRole(user=user, role=role) for role in roles])
            _created_audit(user, provider, [str(r.id) for r in roles])
    else:
        is_admin = bool(provider.admin_group) and provider.admin_group in groups
        if user is not None and user.user_type != UserType.PLATFORM:
            raise SSOError(f"{email} is an organization's user, not a member of the MSP's staff.")
        if user is None:
            user = User.objects.create_user(
                email, None, name=name, user_type=UserType.PLATFORM, is_platform_admin=is_admin
            )
            _created_audit(user, provider, [])
        elif provider.admin_group and user.is_platform_admin != is_admin:
            from accounts.services import user_roles_unholdable_drop

            user.is_platform_admin = is_admin
            user.save(update_fields=["is_platform_admin", "is_superuser", "updated_at"])
            # Made a platform admin by the group claim: the GLOBAL roles held as staff go (admins hold none).
            dropped = user_roles_unholdable_drop(user=user)
            changes = {"before": {"is_platform_admin": not is_admin}, "after": {"is_platform_admin": is_admin}}
            if dropped:
                changes["before"]["role_ids"] = dropped["before"]
                changes["after"]["role_ids"] = dropped["after"]
            audit.record(
                action="user.update", resource_type="user", resource_id=user.id, changes={**changes, "via": "sso"}
            )
    try:
        check_user_may_sign_in(user)
    except Exception as exc:
        raise SSOError(str(getattr(exc, "detail", exc))) from None
    return user


def models_q_org_or_global(organization_id):
    from django.db.models import Q

    return Q(organization_id=organization_id) | Q(organization__isnull=True)


def _created_audit(user, provider: Provider, role_ids: list[str]) -> None:
    audit.record(
        action="user.create",
        resource_type="user",
        resource_id=user.id,
        organization=user.organization_id,
        changes={
            "after": {
                "email": user.email,
                "user_type": user.user_type,
                "is_platform_admin": user.is_platform_admin,
                "role_ids": role_ids,
            },
            "via": f"sso:{provider.key}",
        },
    )


# --- managing an organization's provider (API and admin) ---


def sso_snapshot(sso) -> dict:
    if sso is None:
        return {}
    return {
        "issuer": sso.issuer,
        "client_id": sso.client_id,
        "client_secret": "***" if sso.client_secret else "",
        "email_domains": list(sso.email_domains or []),
        "default_role_ids": sorted(str(r) for r in sso.default_roles.values_list("id", flat=True)),
        "enforce": sso.enforce,
        "is_active": sso.is_active,
    }


def _normalize_domains(domains) -> list[str]:
    import re

    from rest_framework import exceptions

    cleaned = []
    for domain in domains or []:
        value = str(domain).strip().lower().lstrip("@")
        if not re.fullmatch(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value):
            raise exceptions.ValidationError({"email_domains": [f"{domain!r} is not a domain name."]})
        if value not in cleaned:
            cleaned.append(value)
    if not cleaned:
        raise exceptions.ValidationError({"email_domains": ["Give at least one email domain."]})
    return cleaned


@transaction.atomic
def organization_sso_save(*, organization, data: dict, by=None):
    """Create or change an organization's provider. `client_secret` left out (or None) keeps the stored one."""
    from rest_framework import exceptions

    from accounts.models import OrganizationSSO, Role

    sso = OrganizationSSO.objects.select_for_update().filter(organization=organization).first()
    before = sso_snapshot(sso) if sso else None
    if sso is None:
        for required in ("issuer", "client_id", "email_domains"):
            if not data.get(required):
                raise exceptions.ValidationError({required: ["This field is required."]})
        sso = OrganizationSSO(organization=organization)
    if "issuer" in data:
        issuer = normalize_issuer(data["issuer"])
        problem = issuer_problem(issuer)
        if problem:
            raise exceptions.ValidationError({"issuer": [problem]})
        sso.issuer = issuer
    if "client_id" in data:
        sso.client_id = data["client_id"].strip()
    if data.get("client_secret") is not None:
        sso.client_secret = data["client_secret"]
    if "email_domains" in data:
        domains = _normalize_domains(data["email_domains"])
        taken, clash = None, []
        for other in OrganizationSSO.objects.exclude(organization=organization).select_related("organization"):
            clash = sorted(set(domains) & set(other.email_domains or []))
            if clash:
                taken = other
                break
        if taken is not None:
            raise exceptions.ValidationError(
                {"email_domains": [f"{', '.join(clash)} already signs in through {taken.organization.name}."]}
            )
        platform = set(settings.PLATFORM_SSO_EMAIL_DOMAINS) & set(domains)
        if platform:
            raise exceptions.ValidationError(
                {"email_domains": [f"{', '.join(sorted(platform))} belongs to the platform's own provider."]}
            )
        sso.email_domains = domains
    for flag in ("enforce", "is_active"):
        if flag in data:
            setattr(sso, flag, bool(data[flag]))
    sso.save()
    if "default_role_ids" in data:
        ids = [str(i) for i in data["default_role_ids"] or []]
        roles = list(Role.objects.filter(id__in=ids).filter(models_q_org_or_global(organization.id)))
        missing = sorted(set(ids) - {str(r.id) for r in roles})
        if missing:
            raise exceptions.ValidationError(
                {"default_role_ids": [f"Unknown roles for this organization: {', '.join(missing)}."]}
            )
        sso.default_roles.set(roles)
    after = sso_snapshot(sso)
    from audit.services import diff

    changes = diff(before, after)
    if before and data.get("client_secret") is not None:
        changes["before"]["client_secret"] = before["client_secret"]
        changes["after"]["client_secret"] = "*** (replaced)"
    if changes["before"] or changes["after"]:
        audit.record(
            action="organization.sso_update" if before else "organization.sso_create",
            resource_type="organization",
            resource_id=organization.id,
            actor=by,
            organization=organization.id,
            changes=changes,
        )
    return sso


@transaction.atomic
def organization_sso_delete(*, organization, by=None) -> None:
    from rest_framework import exceptions

    from accounts.models import OrganizationSSO

    sso = OrganizationSSO.objects.filter(organization=organization).first()
    if sso is None:
        raise exceptions.NotFound("This organization has no single sign-on.")
    before = sso_snapshot(sso)
    sso.delete()
    audit.record(
        action="organization.sso_delete",
        resource_type="organization",
        resource_id=organization.id,
        actor=by,
        organization=organization.id,
        changes={"before": before, "after": None},
    )
