from django.conf import settings
from django.db import models

from bifrost_site.models import ACTIVITY, BaseModel, OrgScopedQuerySet


class ExecutionStatus(models.TextChoices):
    SCHEDULED = "Scheduled"
    AWAITING_APPROVAL = "AwaitingApproval"
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    COMPLETED_WITH_ERRORS = "CompletedWithErrors"
    FAILED = "Failed"
    TIMEOUT = "Timeout"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    EXPIRED = "Expired"


FINISHED_STATUSES = frozenset(
    {
        ExecutionStatus.SUCCESS,
        ExecutionStatus.COMPLETED_WITH_ERRORS,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMEOUT,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.REJECTED,
        ExecutionStatus.EXPIRED,
    }
)


class Trigger(models.TextChoices):
    MANUAL = "manual"
    FORM = "form"
    SCHEDULE = "schedule"
    ENDPOINT = "endpoint"
    RERUN = "rerun"
    WORKFLOW = "workflow"  # started by another run through `bifrost.workflows.start` (parent_execution)


class WaitingReason(models.TextChoices):
    """Why an accepted `Pending` run is not yet published (DESIGN §15); empty = admitted."""

    NONE = "", "admitted"
    WORKFLOW_CONCURRENCY = "workflow_concurrency"
    ORGANIZATION_CONCURRENCY = "organization_concurrency"


# Statuses that hold an admission slot when `waiting_reason` is empty (executions.admission).
ACTIVE_STATUSES = ("Pending", "Running", "Cancelling")


class ResultType(models.TextChoices):
    JSON = "json"
    HTML = "html"
    TEXT = "text"
    NONE = "none"


class LogLevel(models.TextChoices):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    TRACEBACK = "traceback"


class Execution(BaseModel):
    # Each execution row is inserted once and updated twice (Running, then finished): every index is
    # paid for on the insert, and one on `status` would make both updates non-HOT (docs/performance.md).
    # So: no single-column indexes the composite ones already cover, and partial indexes for the
    # mostly-empty foreign keys.
    created_at = models.DateTimeField(auto_now_add=True)
    workflow_name = models.CharField(max_length=200)
    organization = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="executions",
        db_index=False,
    )
    form = models.ForeignKey(
        "forms_app.Form", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions", db_index=False
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
    )
    executed_by_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    result_type = models.CharField(max_length=10, choices=ResultType.choices, default=ResultType.NONE)
    error_message = models.TextField(blank=True, default="")
    error_type = models.CharField(max_length=200, blank=True, default="")
    variables = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns", db_index=False
    )
    # Run admission (DESIGN §15, executions.admission). A run that waits keeps its reason; the fast path
    # never changes it, so the partial indexes below leave the status updates HOT-capable where they can.
    waiting_reason = models.CharField(max_length=32, choices=WaitingReason.choices, blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True, default="", help_text="SHA-256 of the key")
    schedule = models.ForeignKey(
        "workflows.Schedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
    )
    # Trust and accounting (DESIGN §20): the workflow source the worker ran (set with the final status;
    # no index: looked up from the execution, never the other way) and the worker child's CPU time.
    workflow_version = models.ForeignKey(
        "workflows.WorkflowVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
    )
    cpu_ms = models.PositiveIntegerField(null=True, blank=True)
    # The run whose code started this one (`bifrost.workflows.start`, DESIGN §16).
    parent_execution = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", db_index=False
    )

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="execution_org_created_idx"),
            models.Index(fields=["-created_at", "-id"], name="execution_created_idx"),
            models.Index(fields=["workflow_name", "-created_at"], name="execution_workflow_idx"),
            models.Index(fields=["executed_by", "-created_at"], name="execution_user_idx"),
            models.Index(fields=["form"], name="execution_form_idx", condition=models.Q(form__isnull=False)),
            models.Index(
                fields=["rerun_of"], name="execution_rerun_of_idx", condition=models.Q(rerun_of__isnull=False)
            ),
            models.Index(
                fields=["parent_execution"],
                name="execution_parent_idx",
                condition=models.Q(parent_execution__isnull=False),
            ),
            models.Index(
                fields=["schedule", "organization", "-created_at"],
                name="execution_schedule_idx",
                condition=models.Q(schedule__isnull=False),
            ),
            # Admission: the runs holding a slot (counted per organization and per workflow) ...
            models.Index(
                fields=["organization", "workflow_name"],
                name="execution_active_idx",
                condition=models.Q(status__in=ACTIVE_STATUSES, waiting_reason=""),
            ),
            # ... the runs waiting for one (oldest first per organization) ...
            models.Index(
                fields=["organization", "created_at"],
                name="execution_waiting_idx",
                condition=~models.Q(waiting_reason=""),
            ),
            # ... those waiting for a workflow's slot (any organization: a freed slot of the workflow wakes them) ...
            models.Index(
                fields=["workflow_name", "created_at"],
                name="execution_waiting_workflow_idx",
                condition=models.Q(waiting_reason="workflow_concurrency"),
            ),
            # ... and deferred runs by due time.
            models.Index(
                fields=["scheduled_for"], name="execution_scheduled_idx", condition=models.Q(status="Scheduled")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} {self.id}"

    @property
    def is_complete(self) -> bool:
        return self.status in FINISHED_STATUSES


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` per caller for 24 hours (DESIGN §15): the unique constraint makes concurrent
    duplicates create one run. The raw key is never stored."""

    id = models.BigAutoField(primary_key=True)
    caller = models.CharField(max_length=200)  # user:<id> | key:<workflow key id> | ip:<address>
    key_hash = models.CharField(max_length=64)
    body_hash = models.CharField(max_length=64)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key_hash"], name="idempotency_unique_caller_key")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key_hash[:12]}"


class ExecutionLog(models.Model):
    id = models.BigAutoField(primary_key=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="logs")
    sequence = models.PositiveIntegerField()
    level = models.CharField(max_length=10, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()
    data = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["execution", "sequence"]
        constraints = [models.UniqueConstraint(fields=["execution", "sequence"], name="executionlog_unique_sequence")]

    def __str__(self) -> str:
        return f"{self.execution_id}#{self.sequence}"


class UsageMonth(models.Model):
    """A closed month's usage figures (executions.usage, docs/usage.md): written once, when every run created
    in the month has finished (finished runs never change), so a closed month is one row read instead of an
    aggregate over its runs. `organizations` holds, per organization (null = GLOBAL), the run counts by
    status, durations, CPU and the successful runs per workflow; names, time saved (the workflows' current
    minutes) and approvals are read when the month is shown."""

    month = models.DateField(primary_key=True, help_text="The month's first day (UTC)")
    organizations = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")
