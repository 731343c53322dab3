from rest_framework import serializers

from approvals.models import Approval
from approvals.services import COMMENT_MAX_LENGTH


class ApprovalSerializer(serializers.ModelSerializer):
    execution_id = serializers.UUIDField(read_only=True)
    execution_status = serializers.CharField(source="execution.status", read_only=True)
    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL run")
    organization_name = serializers.SerializerMethodField()
    requested_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    decided_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    approver_role_ids = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField(help_text="Whether the caller may approve or reject it now.")

    class Meta:
        model = Approval
        fields = [
            "id",
            "execution_id",
            "execution_status",
            "workflow_name",
            "organization_id",
            "organization_name",
            "status",
            "requested_by_id",
            "requested_by_name",
            "approver_role_ids",
            "expires_at",
            "decided_by_id",
            "decided_by_name",
            "decided_at",
            "comment",
            "policy_source",
            "can_decide",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_organization_name(self, obj) -> str | None:
        return obj.organization.name if obj.organization_id else None

    def get_approver_role_ids(self, obj) -> list[str]:
        return [str(role.pk) for role in obj.approver_roles.all()]

    def get_can_decide(self, obj) -> bool:
        decidable = self.context.get("decidable_ids")
        return decidable is not None and obj.pk in decidable


class ApprovalDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=COMMENT_MAX_LENGTH, help_text="Why (optional)."
    )
