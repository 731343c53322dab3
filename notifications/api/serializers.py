from rest_framework import serializers

from notifications.models import NotificationChannel, NotificationDelivery, NotificationEvent, NotificationRule

URL_HELP = "An Apprise URL, e.g. msteams://…, mailtos://…, slack://…, json://host/path. Write-only: never returned."


class NotificationChannelSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL (the MSP's)")
    url = serializers.CharField(write_only=True, max_length=4000, help_text=URL_HELP)
    kind = serializers.CharField(source="scheme", read_only=True, help_text="The URL's scheme, e.g. msteams.")

    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "organization_id", "kind", "url", "enabled", "created_at", "updated_at"]
        read_only_fields = ["id", "organization_id", "kind", "created_at", "updated_at"]

    def validate_url(self, value):
        import apprise

        if not apprise.Apprise().add(value):
            raise serializers.ValidationError("Not a valid Apprise URL (see https://github.com/caronc/apprise/wiki).")
        return value


class NotificationChannelUpdateSerializer(NotificationChannelSerializer):
    url = serializers.CharField(write_only=True, max_length=4000, help_text=URL_HELP, required=False)

    class Meta(NotificationChannelSerializer.Meta):
        extra_kwargs = {"name": {"required": False}}


class NotificationRuleSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationEvent.choices), min_length=1, max_length=20
    )
    workflow_names = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=200, help_text="Empty = every one."
    )
    channel_ids = serializers.PrimaryKeyRelatedField(
        source="channels", many=True, queryset=NotificationChannel.objects.all(), help_text="Channels to send to."
    )

    class Meta:
        model = NotificationRule
        fields = [
            "id", "name", "organization_id", "events", "workflow_names", "channel_ids", "enabled", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "organization_id", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scope = self.context.get("scope")
        if scope is not None:  # only channels the caller's scope sees can be named
            self.fields["channel_ids"].child_relation.queryset = NotificationChannel.objects.for_scope(scope)


class NotificationRuleUpdateSerializer(NotificationRuleSerializer):
    class Meta(NotificationRuleSerializer.Meta):
        extra_kwargs = {"name": {"required": False}}


class NotificationDeliverySerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    rule_id = serializers.UUIDField(read_only=True, allow_null=True)
    channel_id = serializers.UUIDField(read_only=True, allow_null=True)
    execution_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationDelivery
        fields = [
            "id", "organization_id", "rule_id", "channel_id", "recipients", "event", "execution_id", "title",
            "status", "attempts", "last_error", "last_attempt_at", "sent_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
