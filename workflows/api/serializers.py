from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.models import JobStatus, JobType, Schedule, WorkflowKey, WorkspaceJob, WorkspaceJobLog
from workflows.services.keys import masked_key


# --- schedules ---
class ScheduleLastRunSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    execution_id = serializers.UUIDField()
    status = serializers.CharField()


class ScheduleSerializer(serializers.Serializer):
    workflow = serializers.CharField(source="workflow.name")
    description = serializers.CharField(source="workflow.description")
    cron = serializers.CharField()
    timezone = serializers.CharField()
    human_readable = serializers.CharField()
    next_run = serializers.DateTimeField(allow_null=True)
    last_run = serializers.SerializerMethodField()
    run_count = serializers.IntegerField(source="workflow.run_count")
    enabled = serializers.BooleanField()
    overdue = serializers.BooleanField()
    is_available = serializers.BooleanField(source="workflow.is_available")
    overlap_policy = serializers.CharField(source="workflow.schedule_overlap")
    last_tick_at = serializers.DateTimeField(source="workflow.last_tick_at", allow_null=True)
    last_tick_outcome = serializers.CharField(source="workflow.last_tick_outcome", allow_null=True)

    @extend_schema_field(ScheduleLastRunSerializer(allow_null=True))
    def get_last_run(self, view):
        w = view.workflow
        if w.last_execution_id is None:
            return None
        return {"time": w.last_execution_at, "execution_id": w.last_execution_id, "status": w.last_execution_status}


class ScheduleRowSerializer(serializers.ModelSerializer):
    """A schedule (DESIGN §15). `organization_id` null = GLOBAL; `target` says where each tick runs."""

    workflow = serializers.CharField(source="workflow.name")
    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    human_readable = serializers.SerializerMethodField()
    is_available = serializers.BooleanField(source="workflow.is_available", read_only=True)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "workflow",
            "organization_id",
            "target",
            "cron",
            "timezone",
            "human_readable",
            "parameters",
            "overlap_policy",
            "enabled",
            "is_default",
            "description",
            "is_available",
            "last_run_at",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_human_readable(self, schedule) -> str:
        from workflows.services.schedules import human_readable

        return human_readable(schedule.cron)


class ScheduleWriteSerializer(serializers.Serializer):
    """Create (workflow and cron required) or change a schedule; the service validates cron, time zone and
    parameters against the workflow's parameters."""

    workflow = serializers.CharField(max_length=200, required=False)
    organization_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="GLOBAL scope only: create the schedule in this organization."
    )
    target = serializers.ChoiceField(
        choices=["organization", "global", "each_organization"],
        required=False,
        help_text="Default: `organization` in an organization scope, `global` in GLOBAL scope.",
    )
    cron = serializers.CharField(max_length=120, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    parameters = serializers.DictField(required=False)
    overlap_policy = serializers.ChoiceField(choices=["skip", "allow"], required=False)
    enabled = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ScheduleUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    timezone = serializers.CharField(required=False, max_length=64)


class ScheduleValidateSerializer(serializers.Serializer):
    expression = serializers.CharField(max_length=120)
    timezone = serializers.CharField(required=False, default="UTC", max_length=64)


class ScheduleValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    expression = serializers.CharField()
    timezone = serializers.CharField()
    human_readable = serializers.CharField()
    next_runs = serializers.ListField(child=serializers.DateTimeField())
    interval_seconds = serializers.IntegerField(allow_null=True)
    warning = serializers.CharField(allow_null=True)


class ScheduleTriggerSerializer(serializers.Serializer):
    parameters = serializers.DictField(required=False, default=dict)


# --- workspace ---
class GitSettingsSerializer(serializers.Serializer):
    repo_url = serializers.CharField(max_length=2000, allow_blank=True)
    branch = serializers.CharField(max_length=255, default="main")
    credential_secret = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    sync_interval_minutes = serializers.IntegerField(min_value=1, max_value=10080, allow_null=True, required=False)
    last_synced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_commit = serializers.CharField(read_only=True)


class JobAcceptedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)


class WorkspaceJobLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkspaceJobLog
        fields = ["sequence", "stream", "message", "timestamp"]


class WorkspaceJobSerializer(serializers.ModelSerializer):
    job_type = serializers.ChoiceField(choices=JobType.choices)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    requested_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    logs = WorkspaceJobLogSerializer(many=True, read_only=True)

    class Meta:
        model = WorkspaceJob
        fields = [
            "id",
            "job_type",
            "status",
            "parameters",
            "result",
            "error_message",
            "requested_by",
            "created_at",
            "started_at",
            "completed_at",
            "logs",
        ]


class PackageSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()


class PackageListSerializer(serializers.Serializer):
    path = serializers.CharField()
    count = serializers.IntegerField()
    results = PackageSerializer(many=True)


class PackageInstallSerializer(serializers.Serializer):
    package = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    version = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


# --- workflow keys ---
class WorkflowKeySerializer(serializers.ModelSerializer):
    workflow = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    masked_key = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowKey
        fields = [
            "id",
            "workflow",
            "description",
            "masked_key",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_by",
            "created_at",
            "is_active",
        ]

    def get_masked_key(self, key) -> str:
        return masked_key(key)

    def get_is_active(self, key) -> bool:
        from django.utils import timezone

        return key.revoked_at is None and (key.expires_at is None or key.expires_at > timezone.now())


class WorkflowKeyCreateSerializer(serializers.Serializer):
    workflow = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class WorkflowKeyCreatedSerializer(WorkflowKeySerializer):
    key = serializers.CharField(help_text="The raw key. Shown once; store it now.")

    class Meta(WorkflowKeySerializer.Meta):
        fields = [*WorkflowKeySerializer.Meta.fields, "key"]
