"""Presentation of executions and log lines. No queries here: views select_related / defer."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from executions.models import Execution, ExecutionLog
from executions.selectors import execution_error_visible


class ExecutionListSerializer(serializers.ModelSerializer):
    """A light list item: no parameters, result or variables."""

    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    organization_name = serializers.SerializerMethodField()
    form_id = serializers.UUIDField(read_only=True, allow_null=True)
    executed_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    rerun_of_id = serializers.UUIDField(read_only=True, allow_null=True)
    is_complete = serializers.BooleanField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "workflow_name",
            "status",
            "is_complete",
            "trigger",
            "organization_id",
            "organization_name",
            "form_id",
            "executed_by_id",
            "executed_by_name",
            "result_type",
            "attempt",
            "rerun_of_id",
            "waiting_reason",
            "scheduled_for",
            "schedule_id",
            "created_at",
            "started_at",
            "completed_at",
            "duration_ms",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_organization_name(self, obj) -> str | None:
        return obj.organization.name if obj.organization_id else None


class ExecutionDetailSerializer(ExecutionListSerializer):
    """Detail: parameters, result and error fields as the caller may see them (never variables)."""

    error_message = serializers.SerializerMethodField()
    error_type = serializers.SerializerMethodField()
    result = serializers.JSONField(read_only=True, allow_null=True)
    parameters = serializers.JSONField(read_only=True)

    class Meta(ExecutionListSerializer.Meta):
        fields = [*ExecutionListSerializer.Meta.fields, "parameters", "result", "error_message", "error_type"]
        read_only_fields = fields

    def _error(self, obj) -> tuple[str, str]:
        return execution_error_visible(obj, self.context.get("scope"))

    @extend_schema_field(serializers.CharField())
    def get_error_message(self, obj) -> str:
        return self._error(obj)[0]

    @extend_schema_field(serializers.CharField())
    def get_error_type(self, obj) -> str:
        return self._error(obj)[1]


class ExecutionLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExecutionLog
        fields = ["sequence", "level", "message", "timestamp", "data"]
        read_only_fields = fields


class ExecutionLogQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, required=False, default=0, help_text="Return lines with a sequence greater than this."
    )
    limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=500)


class ExecutionLogPageSerializer(serializers.Serializer):
    results = ExecutionLogSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="URL of the next page, null when this is the last one.")
    last_sequence = serializers.IntegerField(
        help_text="The highest sequence in this page (the `after` to resume from); the request's `after` when empty."
    )
    is_complete = serializers.BooleanField(help_text="The execution has finished; no more lines will come.")


class ExecutionResultSerializer(serializers.Serializer):
    execution_id = serializers.UUIDField()
    status = serializers.CharField()
    is_complete = serializers.BooleanField()
    result_type = serializers.CharField()
    result = serializers.JSONField(allow_null=True)


class ExecutionVariablesSerializer(serializers.Serializer):
    execution_id = serializers.UUIDField()
    variables = serializers.JSONField(allow_null=True)
