"""Workflow versions and the code an execution ran (DESIGN §20)."""

from rest_framework import serializers

from workflows.models import WorkflowVersion


class WorkflowVersionSerializer(serializers.ModelSerializer):
    is_current = serializers.SerializerMethodField(help_text="Whether this is the source discovery sees today.")

    class Meta:
        model = WorkflowVersion
        fields = ["id", "source_hash", "source_path", "git_commit", "created_at", "is_current"]
        read_only_fields = fields

    def get_is_current(self, version) -> bool:
        return version.source_hash == self.context.get("current_source_hash")


class WorkflowVersionWithSourceSerializer(WorkflowVersionSerializer):
    """`source` with stored secret values masked (context `masker`, workflows.selectors.source_masker)."""

    source = serializers.SerializerMethodField()

    class Meta(WorkflowVersionSerializer.Meta):
        fields = [*WorkflowVersionSerializer.Meta.fields, "source"]
        read_only_fields = fields

    def get_source(self, version) -> str:
        masker = self.context.get("masker")
        return masker.mask(version.source) if masker is not None else version.source


class ExecutionSourceSerializer(serializers.Serializer):
    execution_id = serializers.UUIDField()
    workflow_name = serializers.CharField()
    version = WorkflowVersionSerializer(
        allow_null=True, help_text="The stored version the run used; null when none was recorded."
    )
    source = serializers.CharField(allow_null=True, help_text="The module's source exactly as it ran.")
    current_source_hash = serializers.CharField(
        allow_null=True, help_text="The source hash of the workflow as discovery sees it today."
    )
    code_changed = serializers.BooleanField(
        allow_null=True, help_text="Whether today's source differs from what ran; null when unknown."
    )
