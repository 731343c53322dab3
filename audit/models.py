import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from bifrost_site.models import ACTIVITY, OrgScopedQuerySet


class AuditLogQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit log entries are append-only.")

    def delete(self):
        raise TypeError("Audit log entries are append-only.")


class AuditLog(models.Model):
    """Append-only record of who changed what. A database trigger refuses edits and deletes, and a
    hash chain (audit.chain, DESIGN §20) shows any change made around the trigger.

    `actor` and `organization` keep the ids they were written with even after that user or
    organization is deleted (no database constraint, nothing nulled): the ids are part of the
    entry's hash. `actor_name` keeps the name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=255, blank=True, default="")
    organization = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(max_length=100, db_index=True)
    resource_type = models.CharField(max_length=100, blank=True, default="")
    resource_id = models.CharField(max_length=255, blank=True, default="")
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now_add=True)
    # The hash chain (audit.chain): position, the previous entry's hash, this entry's hash.
    sequence = models.BigIntegerField(unique=True, editable=False)
    previous_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, editable=False)

    objects = AuditLogQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="auditlog_created_idx"),
            models.Index(fields=["organization", "-created_at"], name="auditlog_org_created_idx"),
            models.Index(fields=["resource_type", "resource_id"], name="auditlog_resource_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_name or 'system'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit log entries are append-only.")
        if not self.entry_hash:
            raise TypeError("Audit log entries are appended through audit.record (the hash chain).")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit log entries are append-only.")
