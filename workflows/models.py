from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from bifrost_site.models import ACTIVITY, BaseModel, OrgScopedQuerySet

WORKFLOW_NAME_PATTERN = r"^[a-z0-9_]+$"
WORKFLOW_NAME_VALIDATOR = RegexValidator(WORKFLOW_NAME_PATTERN, "Use lower-case letters, digits and underscores.")


class ExecutionMode(models.TextChoices):
    SYNC = "sync", "Synchronous"
    ASYNC = "async", "Asynchronous"


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", "Skip a tick while the previous run is unfinished"
    ALLOW = "allow", "Allow overlapping runs"


class Workflow(BaseModel):
    """Registry row for a workflow function, written by discovery (never by hand)."""

    name = models.CharField(max_length=200, unique=True, validators=[WORKFLOW_NAME_VALIDATOR])
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, default="General", db_index=True)
    tags = models.JSONField(default=list, blank=True)
    parameters = models.JSONField(default=list, blank=True)
    # NULL: sync for endpoints, async otherwise (DESIGN §7).
    execution_mode = models.CharField(max_length=10, choices=ExecutionMode.choices, null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(
        default=1800, validators=[MinValueValidator(1), MaxValueValidator(7200)]
    )
    schedule = models.CharField(max_length=120, blank=True, default="")
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    schedule_overlap = models.CharField(max_length=10, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    # Runs of this workflow admitted at once across all organizations (DESIGN §15); null = unlimited.
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)
    # An administrator's limit (PATCH /api/workflows/{name}); discovery never touches it. null = the decorator's.
    max_concurrency_override = models.PositiveIntegerField(null=True, blank=True)
    # Minutes of a person's work one successful run saves (`@workflow(time_saved_minutes=N)`, DESIGN §20
    # usage); the override is an administrator's (admin site), discovery never touches it.
    time_saved_minutes = models.PositiveIntegerField(null=True, blank=True)
    time_saved_minutes_override = models.PositiveIntegerField(null=True, blank=True)
    # Approval before a run starts (DESIGN §16): `@workflow(approval={...})` as discovery wrote it, and an
    # administrator's override (PATCH /api/workflows/{name}, admin site; discovery never touches it; {} = none).
    approval_policy = models.JSONField(null=True, blank=True)
    approval_policy_override = models.JSONField(null=True, blank=True)
    endpoint_enabled = models.BooleanField(default=False)
    allowed_methods = models.JSONField(default=list, blank=True)
    public_endpoint = models.BooleanField(default=False)
    retry_policy = models.JSONField(null=True, blank=True)
    source_path = models.CharField(max_length=1000, blank=True, default="")
    source_hash = models.CharField(max_length=64, blank=True, default="")
    is_available = models.BooleanField(default=True, db_index=True)
    import_error = models.TextField(blank=True, default="")
    discovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1, timeout_seconds__lte=7200), name="workflow_timeout_range"
            ),
            models.CheckConstraint(condition=models.Q(name__regex=WORKFLOW_NAME_PATTERN), name="workflow_name_format"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def concurrency_limit(self) -> int | None:
        """Runs admitted at once (executions.admission): the administrator's override, else the decorator's."""
        if self.max_concurrency_override is not None:
            return self.max_concurrency_override
        return self.max_concurrency

    @property
    def effective_approval_policy(self) -> dict | None:
        """{"approver_role_ids"|"approver_roles": [...], "timeout_hours": n} or None: the administrator's
        override (an empty one turns approval off), else the decorator's (approvals.services)."""
        policy = self.approval_policy_override if self.approval_policy_override is not None else self.approval_policy
        return policy or None

    @property
    def time_saved_per_run(self) -> int | None:
        """Minutes a successful run saves: the administrator's override, else the decorator's."""
        if self.time_saved_minutes_override is not None:
            return self.time_saved_minutes_override
        return self.time_saved_minutes


class WorkflowVersion(BaseModel):
    """One distinct source of a workflow's module (DESIGN §20): written by discovery when it first sees
    the source, or by the worker that runs a source discovery has not seen yet. Never changed."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    source_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the module file's bytes")
    source = models.TextField(help_text="The module file as it was (UTF-8)")
    source_path = models.CharField(max_length=1000, blank=True, default="")
    git_commit = models.CharField(
        max_length=64, blank=True, default="", help_text="The workspace's commit when git sync brought this source"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "source_hash"], name="workflowversion_unique_source")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}@{self.source_hash[:12]}"


class DataProvider(BaseModel):
    name = models.CharField(max_length=200, unique=True, validators=[WORKFLOW_NAME_VALIDATOR])
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, default="General")
    parameters = models.JSONField(default=list, blank=True)
    cache_ttl_seconds = models.PositiveIntegerField(default=300)
    source_path = models.CharField(max_length=1000, blank=True, default="")
    source_hash = models.CharField(max_length=64, blank=True, default="")
    is_available = models.BooleanField(default=True)
    import_error = models.TextField(blank=True, default="")
    discovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkflowKey(BaseModel):
    """A webhook key. Only the SHA-256 of the raw key is stored; the raw key is shown once."""

    hashed_key = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, for recognising it.")
    workflow = models.ForeignKey(
        Workflow,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="keys",
        help_text="Empty: the key works for every endpoint-enabled workflow.",
    )
    description = models.CharField(max_length=500, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.workflow or 'global'})"


class JobType(models.TextChoices):
    GIT_SYNC = "git_sync", "Git sync"
    PACKAGE_INSTALL = "package_install", "Package install"
    DISCOVERY = "discovery", "Discovery"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class WorkspaceJob(BaseModel):
    job_type = models.CharField(max_length=20, choices=JobType.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} {self.id}"


class WorkspaceJobLog(models.Model):
    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(WorkspaceJob, on_delete=models.CASCADE, related_name="logs")
    sequence = models.PositiveIntegerField()
    stream = models.CharField(max_length=10, default="stdout")
    message = models.TextField()
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["job", "sequence"]
        constraints = [models.UniqueConstraint(fields=["job", "sequence"], name="workspacejoblog_unique_sequence")]


class WorkspaceGitSettings(BaseModel):
    """The single git remote the workspace follows."""

    repo_url = models.CharField(max_length=2000, blank=True, default="")
    branch = models.CharField(max_length=255, default="main")
    credential_secret = models.CharField(max_length=100, blank=True, default="")
    sync_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_commit = models.CharField(max_length=64, blank=True, default="")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "workspace git settings"
        verbose_name_plural = "workspace git settings"


class TickOutcome(models.TextChoices):
    STARTED = "started", "Started"
    SKIPPED_OVERLAP = "skipped_overlap", "Skipped: previous run unfinished"
    SKIPPED_UNAVAILABLE = "skipped_unavailable", "Skipped: workflow unavailable"
    SKIPPED_QUOTA = "skipped_quota", "Skipped: monthly run quota used"


class ScheduleTarget(models.TextChoices):
    ORGANIZATION = "organization", "The schedule's organization"
    GLOBAL = "global", "GLOBAL scope"
    EACH_ORGANIZATION = "each_organization", "One run per active organization"


class Schedule(BaseModel):
    """A schedule of a workflow (DESIGN §15), in one organization or GLOBAL. `@workflow(schedule=...)` makes
    the workflow's GLOBAL default schedule (`is_default`, kept by discovery); administrators add more.
    Beat sends one tick task per schedule (a PeriodicTask; workflows.services.schedules)."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="schedules"
    )
    target = models.CharField(max_length=20, choices=ScheduleTarget.choices, default=ScheduleTarget.GLOBAL)
    cron = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    parameters = models.JSONField(default=dict, blank=True)
    overlap_policy = models.CharField(max_length=10, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True, default="")
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = ACTIVITY  # GLOBAL admins see every schedule; an organization scope sees its own

    class Meta:
        ordering = ["workflow__name", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow"], condition=models.Q(is_default=True), name="schedule_one_default_per_workflow"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(target="organization", organization__isnull=False)
                    | models.Q(target__in=["global", "each_organization"], organization__isnull=True)
                ),
                name="schedule_target_matches_organization",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} {self.cron}"


class ScheduleTick(BaseModel):
    """A claimed schedule tick: unique per workflow and tick time, so no tick runs twice."""

    workflow_name = models.CharField(max_length=200)
    scheduled_for = models.DateTimeField()
    # The schedule, and for an each_organization fan-out the organization of this run (one claim per org).
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="ticks")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    outcome = models.CharField(max_length=30, choices=TickOutcome.choices, default=TickOutcome.STARTED)
    execution = models.ForeignKey(
        "executions.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow_name", "schedule", "organization", "scheduled_for"],
                nulls_distinct=False,
                name="scheduletick_unique_tick",
            )
        ]
