from rest_framework import serializers

from orgs.models import CONFIG_KEY_VALIDATOR, Config, ConfigType, Organization
from orgs.services import config_key_looks_secret

MASK = "***"


class OrganizationSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(
        max_length=253,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="E-mail domain, stored lower-case (example.com); unique.",
    )
    settings = serializers.JSONField(required=False)
    max_concurrent_runs = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=100000,
        help_text="Runs of this organization admitted at once; more wait (Pending, waiting_reason). "
        "null = the ORG_MAX_CONCURRENT_RUNS setting.",
    )
    monthly_run_quota = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Runs per calendar month (UTC); past it new runs are refused with 429. null = unlimited.",
    )

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "domain",
            "is_active",
            "settings",
            "max_concurrent_runs",
            "monthly_run_quota",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_settings(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object is expected.")
        return value


class ConfigSerializer(serializers.ModelSerializer):
    key = serializers.CharField(max_length=255, validators=[CONFIG_KEY_VALIDATOR])
    value = serializers.JSONField(
        allow_null=True, help_text="Typed by config_type; a secret_ref holds the secret's name."
    )
    config_type = serializers.ChoiceField(choices=ConfigType.choices, default=ConfigType.STRING)
    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL")
    updated_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Config
        fields = [
            "id",
            "key",
            "value",
            "config_type",
            "description",
            "organization_id",
            "updated_by_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "organization_id", "updated_by_id", "created_at", "updated_at"]


class ConfigListSerializer(ConfigSerializer):
    """Lists mask the values of keys that look secret (secret, password, token, key, credential)."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if config_key_looks_secret(instance.key) and data.get("value") is not None:
            data["value"] = MASK
        return data


class ConfigEffectiveSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="Parsed to config_type; a secret_ref shows the name.")
    config_type = serializers.ChoiceField(choices=ConfigType.choices)
    source = serializers.ChoiceField(choices=["organization", "global"])
    organization_id = serializers.UUIDField(allow_null=True)
