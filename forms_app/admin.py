import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html

import audit
from audit.services import diff, snapshot
from bifrost_site.admin_tools import ExplainedConstraintsMixin
from forms_app.models import Form, FormRole, FormUpload
from forms_app.services import AUDIT_FIELDS
from forms_app.validation import form_definition_errors


class PrettyJSONField(forms.JSONField):
    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


class FormAdminForm(ExplainedConstraintsMixin, forms.ModelForm):
    """A JSON editor for the schema, validated by the same rules as the API."""

    schema = PrettyJSONField(
        widget=forms.Textarea(
            attrs={
                "rows": 28,
                "cols": 100,
                "spellcheck": "false",
                "class": "vLargeTextField",
                "style": "font-family: monospace",
            }
        ),
        help_text='{"fields": [{"name", "label", "type", "required", ...}]} — see docs/forms.md.',
    )
    default_launch_params = PrettyJSONField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    allowed_query_params = PrettyJSONField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Form
        fields = [
            "name",
            "description",
            "organization",
            "access_level",
            "is_active",
            "workflow",
            "launch_workflow",
            "default_launch_params",
            "allowed_query_params",
            "schema",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        errors = form_definition_errors(
            schema=cleaned.get("schema"),
            workflow=cleaned.get("workflow"),
            launch_workflow=cleaned.get("launch_workflow") or "",
            default_launch_params=cleaned.get("default_launch_params") or {},
            allowed_query_params=cleaned.get("allowed_query_params") or [],
        )
        for path, messages in errors.items():
            target = path.split(".")[0].split("[")[0]
            target = target if target in self.fields else None
            for message in messages:
                self.add_error(target, f"{path}: {message}" if target == "schema" else message)
        if cleaned.get("default_launch_params") is None:
            cleaned["default_launch_params"] = {}
        if cleaned.get("allowed_query_params") is None:
            cleaned["allowed_query_params"] = []
        return cleaned


class FormRoleInline(admin.TabularInline):
    """The roles that may use the form: its organization's and the GLOBAL ones (a GLOBAL form: every
    role), each labelled with its organization."""

    model = FormRole
    extra = 0
    readonly_fields = ["assigned_by", "assigned_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            from django.db.models import Q

            from accounts.admin import RoleChoiceField
            from accounts.models import Role

            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            form = Form.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
            roles = Role.objects.select_related("organization").order_by("organization__name", "name")
            if form is not None and form.organization_id:
                roles = roles.filter(Q(organization__isnull=True) | Q(organization_id=form.organization_id))
            kwargs["queryset"] = roles
            kwargs["form_class"] = RoleChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    form = FormAdminForm
    list_display = ["name", "workflow", "organization", "access_level", "is_active", "updated_at", "preview_link"]
    list_filter = ["access_level", "is_active", "organization"]
    search_fields = ["name", "description", "workflow"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["preview_link", "created_by"]
    inlines = [FormRoleInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "organization", "access_level", "is_active", "preview_link"]}),
        ("Workflows", {"fields": ["workflow", "launch_workflow", "default_launch_params", "allowed_query_params"]}),
        ("Schema", {"fields": ["schema"]}),
        ("Metadata", {"fields": ["created_by"]}),
    ]

    @admin.display(description="Preview")
    def preview_link(self, obj):
        if not obj or not obj.pk:
            return "—"
        return format_html('<a href="/forms/{}/" target="_blank" rel="noopener">Open the form page</a>', obj.pk)

    def save_model(self, request, obj, form, change):
        before = snapshot(Form.objects.get(pk=obj.pk), AUDIT_FIELDS) if change else None
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            action="form.update" if change else "form.create",
            resource_type="form",
            resource_id=obj.pk,
            actor=request.user,
            organization=obj.organization_id,
            changes=diff(before, snapshot(obj, AUDIT_FIELDS)),
        )

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, FormRole) and instance.assigned_by_id is None:
                instance.assigned_by = request.user
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()

    def delete_model(self, request, obj):
        before = snapshot(obj, AUDIT_FIELDS)
        pk, organization_id = obj.pk, obj.organization_id
        super().delete_model(request, obj)
        audit.record(
            action="form.delete",
            resource_type="form",
            resource_id=pk,
            actor=request.user,
            organization=organization_id,
            changes=diff(before, None),
        )


@admin.register(FormUpload)
class FormUploadAdmin(admin.ModelAdmin):
    """Uploads are never served from the app origin; the admin shows metadata only."""

    list_display = ["original_name", "form", "organization", "content_type", "size", "created_at"]
    list_filter = ["organization"]
    search_fields = ["original_name"]
    fields = ["form", "organization", "field_name", "stored_as", "original_name", "content_type", "size", "uploaded_by"]
    readonly_fields = fields

    @admin.display(description="Stored as")
    def stored_as(self, obj):
        return obj.file.name if obj and obj.file else "—"

    def has_add_permission(self, request):
        return False
