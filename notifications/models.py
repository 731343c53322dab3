"""Who is told what (DESIGN §16): channels (an Apprise URL, encrypted), rules (events, workflows, channels) and
one delivery row per message, recorded per attempt."""

from django.conf import settings
from django.db import models

from bifrost_site.crypto import EncryptedTextField
from bifrost_site.models import ACTIVITY, BaseModel, OrgOwnedModel, OrgScopedQuerySet


class NotificationEvent(models.TextChoices):
    EXECUTION_FAILED = "execution.failed"
    EXECUTION_TIMED_OUT = "execution.timed_out"
    EXECUTION_SUCCEEDED = "execution.succeeded"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_DECIDED = "approval.decided"
    OAUTH_REFRESH_FAILED = "oauth.refresh_failed"
    WORKSPACE_JOB_FAILED = "workspace.job_failed"


# Deliveries that are not a rule's event.
TEST_EVENT = "test"
APPROVER_EMAIL_EVENT = "approval.requested.email"


class NotificationChannel(OrgOwnedModel):
    """Where messages go: any Apprise URL (mailto://, msteams://, slack://, discord://, json://, …). GLOBAL
    channels are the MSP's own; an organization's channel is customer-facing (no exception text)."""

    name = models.CharField(max_length=100)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="notification_channels"
    )
    url = EncryptedTextField(help_text="An Apprise URL; encrypted at rest and never shown again.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], nulls_distinct=False, name="notificationchannel_unique_org_name"
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="notificationchannel_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scheme(self) -> str:
        """The kind of channel (the URL's scheme), safe to show."""
        return str(self.url).split("://", 1)[0].lower() if "://" in str(self.url) else ""


class NotificationRule(OrgOwnedModel):
    """Which events go to which channels. A GLOBAL rule fires for every organization's events (and may only
    use GLOBAL channels); an organization's rule only for that organization's."""

    name = models.CharField(max_length=100)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="notification_rules"
    )
    events = models.JSONField(default=list, help_text="NotificationEvent values.")
    workflow_names = models.JSONField(default=list, blank=True, help_text="Empty = every workflow.")
    channels = models.ManyToManyField(NotificationChannel, related_name="rules")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], nulls_distinct=False, name="notificationrule_unique_org_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


class NotificationDelivery(BaseModel):
    """One message to one channel (or the approvers' email), with its attempts. ACTIVITY rows of the
    organization whose event it was (GLOBAL for platform events)."""

    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    rule = models.ForeignKey(NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(
        NotificationChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipients = models.JSONField(default=list, blank=True, help_text="Email addresses (approver emails).")
    event = models.CharField(max_length=40)
    execution = models.ForeignKey(
        "executions.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    title = models.CharField(max_length=250)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="delivery_org_created_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel or ', '.join(self.recipients)} ({self.status})"
