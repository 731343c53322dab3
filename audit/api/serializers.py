from rest_framework import serializers

from audit.models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    actor_id = serializers.UUIDField(read_only=True, allow_null=True)
    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    changes = serializers.JSONField(read_only=True, help_text="{before, after}; secret values are '***'.")

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "action",
            "actor_id",
            "actor_name",
            "organization_id",
            "resource_type",
            "resource_id",
            "changes",
            "ip_address",
            "user_agent",
            "request_id",
        ]
        read_only_fields = fields
