"""Request scope resolution (DESIGN §4): who is asking, and for which organization.

A platform admin acts GLOBAL, or inside one organization by sending X-Organization-Id.
An ORG user's scope is always their own organization.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework import exceptions

if TYPE_CHECKING:
    from orgs.models import Organization

ORG_HEADER = "X-Organization-Id"
GLOBAL = "GLOBAL"


@dataclass(frozen=True)
class RequestScope:
    user: Any
    organization: Organization | None

    @property
    def organization_id(self) -> uuid.UUID | None:
        return self.organization.id if self.organization is not None else None

    @property
    def is_global(self) -> bool:
        return self.organization is None

    @property
    def is_platform_admin(self) -> bool:
        return bool(getattr(self.user, "is_platform_admin", False))

    @property
    def label(self) -> str:
        return str(self.organization_id) if self.organization is not None else GLOBAL

    @classmethod
    def for_user(cls, user, organization: Organization | None = None) -> RequestScope:
        """The scope a user acts in without a header (tasks, WebSocket consumers)."""
        if getattr(user, "is_platform_admin", False):
            return cls(user=user, organization=organization)
        return cls(user=user, organization=getattr(user, "organization", None))


def resolve_scope(user, header_value: str | None) -> RequestScope:
    """Resolve the scope of an authenticated user and the X-Organization-Id header.

    Malformed header → 400; another org for an ORG user → 403; unknown or inactive org → 404.
    """
    from orgs.models import Organization

    org_id = None
    if header_value not in (None, ""):
        try:
            org_id = uuid.UUID(str(header_value).strip())
        except ValueError:
            raise exceptions.ValidationError(
                {ORG_HEADER: [f"'{header_value}' is not a valid organization id (a UUID is expected)."]}
            ) from None

    if not getattr(user, "is_platform_admin", False):
        if org_id is not None and org_id != user.organization_id:
            raise exceptions.PermissionDenied("You can only act inside your own organization.")
        return RequestScope(user=user, organization=user.organization)

    if org_id is None:
        return RequestScope(user=user, organization=None)
    organization = Organization.objects.filter(id=org_id, is_active=True).first()
    if organization is None:
        raise exceptions.NotFound(f"Organization {org_id} does not exist or is inactive.")
    return RequestScope(user=user, organization=organization)
