"""A person's decision before a run starts (DESIGN §16).

A run that needs approval is created `AwaitingApproval` with one `Approval` row; approving it hands the run
to admission (`Pending`), rejecting or letting it expire ends it (`Rejected`, `Expired`). Rows are ACTIVITY
records of the run's organization (a platform admin without an organization sees every one).
"""

from django.conf import settings
from django.db import models

from bifrost_site.models import ACTIVITY, BaseModel, OrgScopedQuerySet

DEFAULT_TIMEOUT_HOURS = 72
MAX_TIMEOUT_HOURS = 24 * 90


class ApprovalStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the waiting run was cancelled before anyone decided


class Approval(BaseModel):
    execution = models.OneToOneField("executions.Execution", on_delete=models.CASCADE, related_name="approval")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="approvals"
    )
    # Denormalized from the run, for the list's filters and the page (one table, no join).
    workflow_name = models.CharField(max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=255, blank=True, default="")
    approver_roles = models.ManyToManyField("accounts.Role", blank=True, related_name="approvals")
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=255, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    # Where the policy came from: "form" or "workflow".
    policy_source = models.CharField(max_length=10, blank=True, default="")

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="approval_org_created_idx"),
            models.Index(fields=["requested_by", "-created_at"], name="approval_requester_idx"),
            models.Index(fields=["expires_at"], name="approval_pending_idx", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING
