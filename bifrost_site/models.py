"""Abstract bases shared by every app: UUID keys, timestamps and the org-scope choke point."""

import uuid

from django.db import models
from django.db.models import Q

OWNED = "owned"
ACTIVITY = "activity"


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class BaseModel(TimeStampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True


class OrgScopedQuerySet(models.QuerySet):
    """The one place a queryset is narrowed to a request scope (DESIGN §4).

    Models declare `scope_mode`:
    - OWNED (config, secrets, roles, forms, OAuth connections): an org scope sees that org's rows
      and the GLOBAL ones that apply there; GLOBAL scope sees GLOBAL rows.
    - ACTIVITY (executions, audit logs, users): a platform admin without an org sees every org;
      an org scope sees only that org.
    Per-user narrowing (an ORG user's own executions, forms by role) is layered on top by the
    app's selectors, never instead of this.
    """

    def for_scope(self, scope):
        if scope is None:
            return self.none()
        org_id = scope.organization_id
        mode = getattr(self.model, "scope_mode", OWNED)
        if mode == OWNED:
            if org_id is None:
                return self.filter(organization__isnull=True)
            return self.filter(Q(organization_id=org_id) | Q(organization__isnull=True))
        if org_id is None:
            return self.all() if scope.is_platform_admin else self.none()
        return self.filter(organization_id=org_id)

    def owned_by_scope(self, scope):
        """Rows that belong to exactly the scope's organization (or GLOBAL): what it may change."""
        if scope is None:
            return self.none()
        return self.filter(organization_id=scope.organization_id)


class OrgOwnedModel(BaseModel):
    """A row owned by one organization, or GLOBAL when `organization` is NULL."""

    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = OWNED

    class Meta:
        abstract = True

    @property
    def is_global(self) -> bool:
        return self.organization_id is None
