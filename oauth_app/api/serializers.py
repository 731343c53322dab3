import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import RegexValidator
from rest_framework import serializers

from oauth_app.models import FlowType, OAuthConnection
from oauth_app.selectors import connection_token
from secrets_app.models import SECRET_NAME_PATTERN

LOOPBACK_HOSTS = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_provider_url(value: str) -> str:
    """https always; plain http only in development (any host) and testing (loopback only)."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname:
        if settings.ENVIRONMENT == "development":
            return value
        if settings.ENVIRONMENT == "testing" and _is_loopback(parts.hostname):
            return value
    raise serializers.ValidationError(
        "Use an https:// URL (plain http is only accepted in development, or for loopback in testing)."
    )


class ScopeField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=500,
            validators=[
                RegexValidator(r"^[\x21\x23-\x5B\x5D-\x7E]+$", "A scope is one token without spaces or quotes.")
            ],
            **kwargs,
        )


class OAuthConnectionSerializer(serializers.ModelSerializer):
    """The response shape. The client secret and tokens are never part of it."""

    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL")
    scopes = serializers.ListField(child=serializers.CharField())
    has_client_secret = serializers.SerializerMethodField()
    has_token = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField(help_text="When the current access token expires.")
    token_scopes = serializers.SerializerMethodField(help_text="Scopes the provider granted.")

    class Meta:
        model = OAuthConnection
        fields = [
            "id",
            "name",
            "description",
            "organization_id",
            "flow_type",
            "client_id",
            "has_client_secret",
            "authorization_url",
            "token_url",
            "scopes",
            "extra_token_params",
            "status",
            "status_message",
            "has_token",
            "expires_at",
            "token_scopes",
            "last_refresh_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_client_secret(self, obj) -> bool:
        return bool(obj.client_secret)

    def get_has_token(self, obj) -> bool:
        return connection_token(obj) is not None

    def get_expires_at(self, obj) -> str | None:
        token = connection_token(obj)
        return serializers.DateTimeField().to_representation(token.expires_at) if token and token.expires_at else None

    def get_token_scopes(self, obj) -> list[str]:
        token = connection_token(obj)
        return list(token.scopes or []) if token else []


class OAuthConnectionWriteSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, validators=[RegexValidator(SECRET_NAME_PATTERN, "Use 1-100 letters, digits, '_' or '-'.")]
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    flow_type = serializers.ChoiceField(choices=FlowType.choices)
    client_id = serializers.CharField(max_length=500)
    client_secret = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only; never returned. Omit or leave empty on update to keep the current one.",
    )
    authorization_url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Required for authorization_code."
    )
    token_url = serializers.CharField(max_length=2000)
    scopes = serializers.ListField(child=ScopeField(), required=False, max_length=100)
    extra_token_params = serializers.DictField(
        required=False,
        help_text='Extra form parameters sent with every token request. A value may be {"secret_ref": "<secret name>"} '
        "to send a secret's value (resolved in the connection's organization, else GLOBAL).",
    )

    def validate_authorization_url(self, value):
        return validate_provider_url(value) if value else value

    def validate_token_url(self, value):
        return validate_provider_url(value)

    def validate_extra_token_params(self, value):
        from secrets_app.selectors import secret_for_name

        organization_id = self.context.get("organization_id")
        errors = {}
        for key, item in value.items():
            if isinstance(item, dict):
                ref = item.get("secret_ref")
                if set(item) != {"secret_ref"} or not isinstance(ref, str):
                    errors[key] = 'An object value must be exactly {"secret_ref": "<secret name>"}.'
                elif secret_for_name(organization_id=organization_id, name=ref) is None:
                    errors[key] = f"Secret '{ref}' does not exist in this scope or GLOBAL."
            elif not isinstance(item, str | int | float | bool):
                errors[key] = 'Use a string, a number, a boolean or {"secret_ref": name}.'
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate(self, attrs):
        instance = self.instance
        flow = attrs.get("flow_type", instance.flow_type if instance else None)
        if instance is not None:
            if "name" in attrs and attrs["name"] != instance.name:
                raise serializers.ValidationError({"name": ["A connection cannot be renamed; create a new one."]})
            if "flow_type" in attrs and attrs["flow_type"] != instance.flow_type:
                raise serializers.ValidationError(
                    {"flow_type": ["The flow type cannot be changed; create a new connection."]}
                )
        auth_url = attrs.get("authorization_url", instance.authorization_url if instance else "")
        if flow == FlowType.AUTHORIZATION_CODE and not auth_url:
            raise serializers.ValidationError({"authorization_url": ["Required for the authorization_code flow."]})
        secret = attrs.get("client_secret")
        has_secret = bool(secret) or bool(instance is not None and instance.client_secret)
        if flow == FlowType.CLIENT_CREDENTIALS and not has_secret:
            raise serializers.ValidationError({"client_secret": ["Required for the client_credentials flow."]})
        return attrs


class AuthorizeResponseSerializer(serializers.Serializer):
    authorization_url = serializers.CharField(help_text="Open this URL in the browser to grant access.")
    expires_at = serializers.DateTimeField(help_text="The state is valid until then (single use).")


class RefreshRunSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    checked = serializers.IntegerField(help_text="Completed connections with a token looked at.")
    refreshed = serializers.IntegerField()
    failed = serializers.IntegerField()
    details = serializers.ListField(child=serializers.DictField())


class RefreshJobSerializer(serializers.Serializer):
    task = serializers.CharField()
    interval_seconds = serializers.IntegerField()
    window_minutes = serializers.IntegerField()
    last_run = RefreshRunSerializer(allow_null=True)
