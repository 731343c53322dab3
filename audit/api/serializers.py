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


class AuditPublicKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField(help_text='Always "Ed25519".')
    key_id = serializers.CharField(help_text="Names the key; the export's last line carries the same key_id.")
    public_key = serializers.CharField(help_text="The raw 32-byte public key, base64.")
    public_key_pem = serializers.CharField(help_text="The same key as a PEM SubjectPublicKeyInfo block.")


# `from` is a Python keyword, so the query serializer is built with type().
AuditExportQuerySerializer = type(
    "AuditExportQuerySerializer",
    (serializers.Serializer,),
    {
        "from": serializers.DateTimeField(
            required=False, help_text="Entries created at or after this time (ISO 8601; a date means 00:00 UTC)."
        ),
        "to": serializers.DateTimeField(
            required=False, help_text="Entries created before this time (ISO 8601; a date means 00:00 UTC)."
        ),
        "organization": serializers.UUIDField(required=False, help_text="Only this organization's entries."),
    },
)
