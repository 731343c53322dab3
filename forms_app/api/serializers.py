from rest_framework import serializers

from executions.presenters import RunAtField
from forms_app.models import AccessLevel, Form, FormRole


class FormSerializer(serializers.ModelSerializer):
    """The full form, for platform admins."""

    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    role_ids = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    approver_role_ids = serializers.SerializerMethodField()

    class Meta:
        model = Form
        fields = [
            "id",
            "name",
            "description",
            "organization_id",
            "workflow",
            "launch_workflow",
            "default_launch_params",
            "allowed_query_params",
            "schema",
            "access_level",
            "is_active",
            "role_ids",
            "requires_approval",
            "approver_role_ids",
            "approval_timeout_hours",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_role_ids(self, obj) -> list[str]:
        return [str(fr.role_id) for fr in obj.form_roles.all()]  # prefetched by the viewset

    def get_created_by(self, obj) -> str | None:
        return obj.created_by.email if obj.created_by_id else None

    def get_approver_role_ids(self, obj) -> list[str]:
        return [str(role.pk) for role in obj.approver_roles.all()]  # prefetched by the selectors


class FormUserSerializer(serializers.ModelSerializer):
    """What a user of the form sees: enough to render and submit it."""

    organization_id = serializers.UUIDField(read_only=True, allow_null=True)
    has_launch_workflow = serializers.SerializerMethodField()

    class Meta:
        model = Form
        fields = [
            "id",
            "name",
            "description",
            "organization_id",
            "schema",
            "access_level",
            "allowed_query_params",
            "has_launch_workflow",
        ]
        read_only_fields = fields

    def get_has_launch_workflow(self, obj) -> bool:
        return bool(obj.launch_workflow)


class FormWriteSerializer(serializers.Serializer):
    """Shape checks only; the schema and registry rules are in forms_app.validation."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    workflow = serializers.CharField(max_length=200)
    launch_workflow = serializers.CharField(max_length=200, required=False, allow_blank=True)
    default_launch_params = serializers.JSONField(required=False)
    allowed_query_params = serializers.JSONField(required=False)
    schema = serializers.JSONField(required=False)
    access_level = serializers.ChoiceField(choices=AccessLevel.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    # approvals (DESIGN §16, approvals.services.form_approval_apply)
    requires_approval = serializers.BooleanField(required=False, help_text="Each submission waits for approval.")
    approver_role_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=100, help_text="Roles whose holders approve."
    )
    approval_timeout_hours = serializers.IntegerField(
        min_value=1, max_value=2160, allow_null=True, required=False, help_text="null = 72 hours."
    )


class FormRolesWriteSerializer(serializers.Serializer):
    role_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=True, max_length=500)


class FormRoleSerializer(serializers.ModelSerializer):
    role_id = serializers.UUIDField(read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True)
    organization_id = serializers.UUIDField(source="role.organization_id", read_only=True, allow_null=True)

    class Meta:
        model = FormRole
        fields = ["role_id", "role_name", "organization_id", "assigned_at"]
        read_only_fields = fields


class FormRolesSerializer(serializers.Serializer):
    role_ids = serializers.ListField(child=serializers.UUIDField())
    roles = FormRoleSerializer(many=True)


class FormContextSerializer(serializers.Serializer):
    form_data = serializers.JSONField(required=False, help_text="Current field values, by field name.")
    query = serializers.JSONField(required=False, help_text="The page's query parameters.")
    workflow = serializers.JSONField(required=False, help_text="The launch workflow's result (startup).")


class SubmitSerializer(FormContextSerializer):
    form_data = serializers.JSONField(help_text="Field values, by field name.")
    run_at = RunAtField()


class StartupResponseSerializer(serializers.Serializer):
    result = serializers.JSONField(required=False)


class DataProviderRequestSerializer(FormContextSerializer):
    field = serializers.CharField(required=False, help_text="The field whose inputs apply (default: the first).")


class OptionSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.JSONField()
    metadata = serializers.JSONField(required=False)


class DataProviderResponseSerializer(serializers.Serializer):
    options = OptionSerializer(many=True)
    cached = serializers.BooleanField()


class UploadRequestSerializer(serializers.Serializer):
    field = serializers.CharField(max_length=200)
    file = serializers.FileField()


class UploadResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    field = serializers.CharField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class FormExportSerializer(serializers.Serializer):
    bifrost_form = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    workflow = serializers.CharField()
    launch_workflow = serializers.CharField()
    default_launch_params = serializers.JSONField()
    allowed_query_params = serializers.JSONField()
    schema = serializers.JSONField()
    access_level = serializers.ChoiceField(choices=AccessLevel.choices)
    is_active = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField())


class FormImportResponseSerializer(serializers.Serializer):
    form = FormSerializer()
    skipped_roles = serializers.ListField(child=serializers.CharField())
