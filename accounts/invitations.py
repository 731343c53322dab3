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
    from accounts.models import Invitation
    from bifrost_site.api.errors import ConflictError

    email = (email or "").strip().lower()
    if User.objects.filter(email=email).exists():
        raise ConflictError(f"A user with email {email} already exists.", details={"email": email})
    if is_platform_admin and organization is not None:
        raise exceptions.ValidationError(
            {"is_platform_admin": ["Platform admins belong to no organization: leave organization_id empty."]}
        )
    roles = invitation_roles_check(
        email=email, organization=organization, is_platform_admin=is_platform_admin, role_ids=role_ids
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


def invitation_roles_check(*, email: str, organization, is_platform_admin: bool, role_ids) -> list:
    """The roles named by `role_ids`, if the invited user may hold every one of them; else a 400 on
    `role_ids`. The rule is role assignment's (`accounts.models.role_holding_problem`), applied to the
    user the invitation will create: an organization's user holds that organization's roles and GLOBAL
    roles; MSP staff (no organization, not a platform admin) GLOBAL roles only (e.g. an approver role,
    DESIGN §16); a platform admin none (DESIGN §4)."""
    from accounts.models import Role, UserType, role_holding_problem

    wanted = list(dict.fromkeys(str(r) for r in role_ids or []))
    if not wanted:
        return []
    if is_platform_admin:
        raise exceptions.ValidationError(
            {"role_ids": ["Platform admins cannot be given roles (they see everything): leave role_ids empty."]}
        )
    roles = list(Role.objects.select_related("organization").filter(id__in=wanted))
    missing = sorted(set(wanted) - {str(r.id) for r in roles})
    if missing:
        raise exceptions.ValidationError({"role_ids": [f"Unknown roles: {', '.join(missing)}."]})
    invitee = User(
        email=email,
        organization=organization,
        user_type=UserType.ORG if organization is not None else UserType.PLATFORM,
        is_platform_admin=False,
    )
    problems = [problem for role in roles if (problem := role_holding_problem(invitee, role))]
    if problems:
        raise exceptions.ValidationError({"role_ids": problems})
    return roles


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


def _grant(invitation, user) -> tuple[list[str], list[str]]:
    """Give `user` the invited roles they may hold (`role_holding_problem`, as role assignment checks).
    Returns (ids of the roles given, why each other one was not)."""
    from accounts.models import UserRole, role_holding_problem

    existing = set(UserRole.objects.filter(user=user).values_list("role_id", flat=True))
    given, refused = [], []
    for role in invitation.roles.select_related("organization"):
        problem = role_holding_problem(user, role)
        if problem:
            refused.append(problem)
        elif role.id not in existing:
            given.append(role)
    UserRole.objects.bulk_create([UserRole(user=user, role=role, assigned_by=invitation.invited_by) for role in given])
    return sorted(str(role.id) for role in given), refused


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
    role_ids, refused = _grant(invitation, user)
    if refused:  # a role moved to another organization since the invitation was sent: nothing is kept
        raise exceptions.ValidationError(
            {"role_ids": [*refused, "This invitation's roles changed since it was sent: ask for a new invitation."]}
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user", "updated_at"])
    _audit(
        "invitation.accept",
        invitation,
        user,
        {"after": {"user_id": str(user.id), "via": "password", "role_ids": role_ids}},
    )
    return user


@transaction.atomic
def invitation_complete_by_sso(*, invitation_id, user) -> bool:
    """After an SSO sign-in started from an invitation: grant the invited roles if it is the invitee.

    The sign-in has happened (SSO created or found the user), so a role the user may not hold is left out
    rather than refused, and named in the audit entry: e.g. MSP staff invited with a GLOBAL approver role
    whom the platform provider's admin group makes a platform admin (platform admins hold no roles, as
    when a user is promoted)."""
    from accounts.models import Invitation

    invitation = Invitation.objects.select_for_update().filter(id=invitation_id).first()
    if invitation is None or invitation.status != "pending" or invitation.email != user.email:
        return False
    if invitation.organization_id != user.organization_id:
        return False
    role_ids, refused = _grant(invitation, user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user", "updated_at"])
    after = {"user_id": str(user.id), "via": "sso", "role_ids": role_ids}
    if refused:
        after["roles_not_given"] = refused
    _audit("invitation.accept", invitation, user, {"after": after})
    return True
