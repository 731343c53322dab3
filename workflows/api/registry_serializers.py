from rest_framework import serializers

from executions.presenters import RunAtField
from workflows.models import DataProvider, Workflow


class WorkflowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "category",
            "tags",
            "parameters",
            "execution_mode",
            "timeout_seconds",
            "schedule",
            "schedule_timezone",
            "endpoint_enabled",
            "allowed_methods",
            "public_endpoint",
            "retry_policy",
            "max_concurrency",
            "max_concurrency_override",
            "time_saved_minutes",
            "time_saved_minutes_override",
            "approval_policy",
            "approval_policy_override",
            "source_path",
            "source_hash",
            "is_available",
            "import_error",
            "discovered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DataProviderSerializer(serializers.ModelSerializer):
    class Meta:
        model = DataProvider
        fields = [
            "id",
            "name",
            "description",
            "category",
            "parameters",
            "cache_ttl_seconds",
            "source_path",
            "is_available",
            "import_error",
            "discovered_at",
        ]
        read_only_fields = fields


class WorkflowLimitsSerializer(serializers.Serializer):
    """An administrator's overrides; send one or both. Discovery keeps them."""

    max_concurrency = serializers.IntegerField(
        min_value=1,
        max_value=100000,
        allow_null=True,
        required=False,
        help_text="Runs admitted at once across organizations; null = the @workflow declaration.",
    )
    time_saved_minutes = serializers.IntegerField(
        min_value=0,
        max_value=100000,
        allow_null=True,
        required=False,
        help_text="Minutes one successful run saves (usage, DESIGN §20); null = the @workflow declaration.",
    )
    approval = serializers.JSONField(
        allow_null=True,
        required=False,
        help_text='Approval before each run (DESIGN §16): {"approver_roles"|"approver_role_ids": [...], '
        '"timeout_hours": n}; {} = no approval; null = the @workflow declaration.',
    )

    def validate_approval(self, value):
        from bifrost.decorators import validate_approval_policy
        from bifrost.errors import WorkflowDefinitionError

        if value is None or value == {}:
            return value
        try:
            return validate_approval_policy("approval", value)
        except WorkflowDefinitionError as exc:
            raise serializers.ValidationError(str(exc).removeprefix("approval: ")) from None

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send max_concurrency and/or time_saved_minutes.")
        return attrs


class WorkflowExecuteSerializer(serializers.Serializer):
    parameters = serializers.DictField(required=False, default=dict)
    run_at = RunAtField()


class DataProviderCallSerializer(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)


class DataProviderOptionSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.JSONField()
    metadata = serializers.JSONField(required=False)


class DataProviderOptionsSerializer(serializers.Serializer):
    options = DataProviderOptionSerializer(many=True)
    cached = serializers.BooleanField()


class ReloadAcceptedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
