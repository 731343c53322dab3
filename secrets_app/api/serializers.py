from django.core.validators import RegexValidator
from rest_framework import serializers

from secrets_app.models import SECRET_NAME_PATTERN, Secret

MAX_SECRET_LENGTH = 65536


def value_field(**kwargs):
    return serializers.CharField(
        write_only=True,
        min_length=1,
        max_length=MAX_SECRET_LENGTH,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=f"The secret value (1-{MAX_SECRET_LENGTH} characters). Write-only: never returned.",
        **kwargs,
    )


class SecretSerializer(serializers.ModelSerializer):
    """Names and metadata only; the value is never part of a response."""

    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL")
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Secret
        fields = ["id", "name", "description", "organization_id", "created_by_id", "created_at", "updated_at"]
        read_only_fields = fields


class SecretCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100,
        validators=[RegexValidator(SECRET_NAME_PATTERN, "Use 1-100 letters, digits, '_' or '-'.")],
    )
    value = value_field()
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SecretUpdateSerializer(serializers.Serializer):
    value = value_field(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs):
        if "name" in self.initial_data:
            raise serializers.ValidationError({"name": ["A secret cannot be renamed; create a new one."]})
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Send 'value' and/or 'description'."]})
        return attrs
