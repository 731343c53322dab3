"""Invitations (DESIGN §17): a platform admin invites an email; the link (single use, 7 days) lets the
person set a password, or sign in through their organization's SSO, and creates the user with the
invited roles. Only the SHA-256 of the link's token is stored; the email carries the raw token.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
from accounts import services

User = get_user_model()

VALID_DAYS = 7
INVITATION_SESSION_KEY = "bifrost_invitation"


def token_hash(raw: str) -> str:
    return hashlib.sha256((raw or "").encode()).hexdigest()


def accept_url(raw: str, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/invitations/{raw}/"


def _audit(action: str, invitation, by=None, changes=None) -> None:
    audit.record(
        action=action,
        resource_type="invitation",
        resource_id=invitation.id,
        actor=by,
        organization=invitation.organization_id,
        changes=changes or {},
    )


@transaction.atomic
def invitation_create(*, email: str, organization=None, role_ids=(), is_platform_admin=False, by=None, base_url: str):
    """Create the invitation and email its link. Returns (invitation, raw token)."""
    from accounts.models import Invitation, Role
    from bifrost_site.api.errors import ConflictError

    email = (email or "").strip().lower()
    if User.objects.filter(email=email).exists():
        raise ConflictError(f"A user with email {email} already exists.", details={"email": email})
    if is_platform_admin and organization is not None:
        raise exceptions.ValidationError(
            {"is_platform_admin": ["Platform admins belong to no organization: leave organization_id empty."]}
        )
    role_ids = [str(r) for r in role_ids or []]
    roles = []
    if role_ids:
        if organization is None:
            raise exceptions.ValidationError({"role_ids": ["Platform users cannot be given roles."]})
        roles = list(Role.objects.filter(id__in=role_ids).filter(services_q_org_or_global(organization.id)))
        missing = sorted(set(role_ids) - {str(r.id) for r in roles})
        if missing:
            raise exceptions.ValidationError(
                {"role_ids": [f"Unknown roles for this organization: {', '.join(missing)}."]}
            )
    now = timezone.now()
    Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email,
        organization=organization,
        is_platform_admin=is_platform_admin,
        token_hash=token_hash(raw),
        expires_at=now + datetime.timedelta(days=VALID_DAYS),
        invited_by=by if getattr(by, "is_authenticated", False) else None,
    )
    invitation.roles.set(roles)
    _audit(
        "invitation.create",
        invitation,
        by,
        {
            "after": {
                "email": email,
                "organization_id": str(organization.id) if organization else None,
                "role_ids": sorted(str(r.id) for r in roles),
                "is_platform_admin": is_platform_admin,
            }
        },
    )
    link = accept_url(raw, base_url=base_url)
    where = organization.name if organization else "the MSP's Bifrost"
    inviter = getattr(by, "display_name", "") or "An administrator"
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to Bifrost ({where})",
            message=(
                f"{inviter} invited you to Bifrost ({where}).\n\n"
                f"Accept the invitation within {VALID_DAYS} days (the link works once):\n{link}\n\n"
                "If you did not expect this, ignore this email."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )
    return invitation, raw


def services_q_org_or_global(organization_id):
    from django.db.models import Q

    return Q(organization_id=organization_id) | Q(organization__isnull=True)


@transaction.atomic
def invitation_revoke(*, invitation, by=None):
    if invitation.accepted_at is not None:
        raise exceptions.ValidationError({"id": ["This invitation was already accepted."]})
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        _audit("invitation.revoke", invitation, by)
    return invitation


def invitation_for_token(raw: str):
    """The pending invitation of this link, or None (unknown, used, revoked or expired)."""
    from accounts.models import Invitation

    invitation = Invitation.objects.select_related("organization").filter(token_hash=token_hash(raw)).first()
    if invitation is None or invitation.status != "pending":
        return None
    if invitation.organization_id is not None and not invitation.organization.is_active:
        return None
    return invitation


def _grant(invitation, user) -> None:
    from accounts.models import UserRole

    existing = set(UserRole.objects.filter(user=user).values_list("role_id", flat=True))
    UserRole.objects.bulk_create(
        [
            UserRole(user=user, role=role, assigned_by=invitation.invited_by)
            for role in invitation.roles.all()
            if role.id not in existing
        ]
    )


@transaction.atomic
def invitation_accept(*, raw: str, password: str, name: str = ""):
    """Create the invited user with this password and the invited roles; the link is spent."""
    from accounts.models import Invitation

    invitation = invitation_for_token(raw)
    if invitation is None:
        raise exceptions.ValidationError({"token": ["This invitation link is invalid, used, revoked or expired."]})
    invitation = Invitation.objects.select_for_update().get(id=invitation.id)
    if invitation.status != "pending":
        raise exceptions.ValidationError({"token": ["This invitation link is invalid, used, revoked or expired."]})
    user = services.user_create(
        email=invitation.email,
        name=name,
        organization=invitation.organization,
        is_platform_admin=invitation.is_platform_admin,
        password=password,
    )
    _grant(invitation, user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user", "updated_at"])
    _audit("invitation.accept", invitation, user, {"after": {"user_id": str(user.id), "via": "password"}})
    return user


@transaction.atomic
def invitation_complete_by_sso(*, invitation_id, user) -> bool:
    """After an SSO sign-in started from an invitation: grant the invited roles if it is the invitee."""
    from accounts.models import Invitation

    invitation = Invitation.objects.select_for_update().filter(id=invitation_id).first()
    if invitation is None or invitation.status != "pending" or invitation.email != user.email:
        return False
    if invitation.organization_id != user.organization_id:
        return False
    _grant(invitation, user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user", "updated_at"])
    _audit("invitation.accept", invitation, user, {"after": {"user_id": str(user.id), "via": "sso"}})
    return True
