import json

from django import forms
from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

import audit
from approvals.models import DEFAULT_TIMEOUT_HOURS, MAX_TIMEOUT_HOURS
from audit.services import diff, snapshot
from bifrost_site.admin_tools import ExplainedConstraintsMixin, JSONEditorField
from forms_app.models import Form, FormRole, FormUpload
from forms_app.services import AUDIT_FIELDS
from forms_app.validation import form_definition_errors


def workflow_choices(current: str | None, *, blank: str) -> list[tuple[str, str]]:
    """The available workflows' names; the form's current workflow too when it is no longer available."""
    from workflows.models import Workflow

    names = list(Workflow.objects.filter(is_available=True).order_by("name").values_list("name", flat=True))
    choices = [("", blank), *((name, name) for name in names)]
    if current and current not in names:
        choices.append((current, f"{current} (unavailable)"))
    return choices


class ApproverRolesField(forms.ModelMultipleChoiceField):
    """The form's approver roles (DESIGN §16): its organization's roles and GLOBAL ones, labelled with it."""

    default_error_messages = {
        "invalid_choice": "This role is not one of the form's organization or a GLOBAL role (or is inactive): "
        "approver roles must be the form's organization's or GLOBAL roles.",
    }

    def label_from_instance(self, obj):
        label = f"{obj.name} ({obj.organization.name if obj.organization_id else 'GLOBAL'})"
        return label if obj.is_active else f"{label} — inactive"


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


class FormAdminForm(ExplainedConstraintsMixin, forms.ModelForm):
    """A JSON editor for the schema, validated by the same rules as the API; the approval policy
    (`requires_approval`, approver roles, timeout) checked like `approvals.services.form_approval_apply`."""

    workflow = forms.ChoiceField(help_text="The workflow a submission runs (available workflows only).")
    launch_workflow = forms.ChoiceField(
        required=False, help_text="Optional: runs when the form opens, its result available to the fields."
    )
    schema = JSONEditorField(
        widget=forms.Textarea(
            attrs={"rows": 28, "cols": 80, "spellcheck": "false", "class": "vLargeTextField bifrost-json"}
        ),
        help_text='{"fields": [{"name", "label", "type", "required", ...}]} — see docs/forms.md. Checked as you '
        "type by the same rules as the API; the preview shows the unsaved form.",
    )
    default_launch_params = JSONEditorField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField bifrost-json"})
    )
    allowed_query_params = JSONEditorField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField bifrost-json"})
    )
    approver_roles = ApproverRolesField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who may approve a submission: holders of these roles (a GLOBAL role held by MSP staff approves "
        "for every organization), and platform admins; never the person who submitted it. No role: platform "
        "admins only. Roles of the form's organization or GLOBAL ones.",
    )
    approval_timeout_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TIMEOUT_HOURS,
        label="Approval timeout (hours)",
        help_text=f"How long a request stays open before the run expires: 1 to {MAX_TIMEOUT_HOURS} hours; "
        f"empty = {DEFAULT_TIMEOUT_HOURS}.",
    )

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
            "requires_approval",
            "approver_roles",
            "approval_timeout_hours",
        ]
        labels = {"requires_approval": "Requires approval"}
        help_texts = {
            "requires_approval": "A submission waits (status Awaiting approval) until an approver approves it; "
            "this wins over the workflow's own approval policy."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approver_roles"].queryset = self._approver_role_choices()
        self.fields["workflow"].choices = workflow_choices(self.instance.workflow, blank="Choose a workflow")
        self.fields["launch_workflow"].choices = workflow_choices(self.instance.launch_workflow, blank="(none)")
        self.fields["schema"].widget.attrs.update(
            {
                "data-skeleton-url": reverse("admin:forms_app_form_schema_skeleton"),
                "data-validate-url": reverse("admin:forms_app_form_schema_validate"),
                "data-preview-url": reverse("admin:forms_app_form_schema_preview"),
            }
        )

    def _approver_role_choices(self):
        """Active roles of the form's organization (as posted, else as saved) and GLOBAL ones, plus the ones
        it already names (saving never drops one silently), labelled with their organization. The add page,
        before an organization is chosen, offers every organization's; `clean` checks the chosen one."""
        from django.db.models import F, Q

        from accounts.models import Role

        saved = self.instance.created_at is not None
        if self.is_bound:
            organization_id = _uuid_or_none(self.data.get(self.add_prefix("organization")) or None)
            allowed = Q(organization__isnull=True) | Q(organization_id=organization_id)
        elif saved or self.instance.organization_id is not None:
            allowed = Q(organization__isnull=True) | Q(organization_id=self.instance.organization_id)
        else:
            allowed = Q()
        named = Q(pk__in=self.instance.approver_roles.values("pk")) if saved else Q(pk__in=[])
        return (
            Role.objects.filter(allowed, Q(is_active=True) | named)
            .select_related("organization")
            .order_by(F("organization__name").asc(nulls_first=True), "name")  # GLOBAL roles first
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        organization = cleaned.get("organization")
        foreign = [
            role.name
            for role in cleaned.get("approver_roles") or []
            if role.organization_id not in (None, getattr(organization, "pk", None))
        ]
        if foreign:
            self.add_error(
                "approver_roles",
                f"Not roles of the form's organization or GLOBAL ones: {', '.join(sorted(foreign))}.",
            )
        errors = form_definition_errors(
            schema=cleaned.get("schema"),
            workflow=cleaned.get("workflow"),
            launch_workflow=cleaned.get("launch_workflow") or "",
            default_launch_params=cleaned.get("default_launch_params") or {},
            allowed_query_params=cleaned.get("allowed_query_params") or [],
        )
        for where, messages in errors.items():
            target = where.split(".")[0].split("[")[0]
            target = target if target in self.fields else None
            for message in messages:
                self.add_error(target, f"{where}: {message}" if target == "schema" else message)
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
        (
            "Approval",
            {
                "fields": ["requires_approval", "approver_roles", "approval_timeout_hours"],
                "description": "A person before a risky run (docs/approvals.md): four eyes, the requester never "
                "decides their own request.",
            },
        ),
        ("Metadata", {"fields": ["created_by"]}),
    ]

    class Media:
        js = ["bifrost_site/admin/form_editor.js"]

    # --- the schema editor's helpers: staff-only JSON and HTML, for form_editor.js ----------------------

    def get_urls(self):
        def view(function, name):
            return path(f"schema/{name}/", self.admin_site.admin_view(function), name=f"forms_app_form_schema_{name}")

        return [
            view(self.schema_skeleton_view, "skeleton"),
            view(self.schema_validate_view, "validate"),
            view(self.schema_preview_view, "preview"),
            *super().get_urls(),
        ]

    @staticmethod
    def _posted_json(request) -> dict:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @method_decorator(require_GET)
    def schema_skeleton_view(self, request):
        """GET ?workflow=<name>: a schema with one field per parameter of that workflow."""
        from forms_app.skeleton import schema_from_parameters
        from workflows.models import Workflow

        workflow = Workflow.objects.filter(name=request.GET.get("workflow", "")).first()
        if workflow is None:
            return JsonResponse({"error": "Choose a workflow first."}, status=404)
        return JsonResponse({"schema": schema_from_parameters(workflow.parameters)})

    @method_decorator(require_POST)
    def schema_validate_view(self, request):
        """POST the editor's values: {"errors": {path: [messages]}} by the API's validator."""
        body = self._posted_json(request)
        errors = form_definition_errors(
            schema=body.get("schema"),
            workflow=body.get("workflow"),
            launch_workflow=body.get("launch_workflow") or "",
            default_launch_params=body.get("default_launch_params") or {},
            allowed_query_params=body.get("allowed_query_params") or [],
        )
        return JsonResponse({"errors": errors})

    @method_decorator(require_POST)
    def schema_preview_view(self, request):
        """POST {"schema": ...}: the unsaved form's fields as HTML, for the preview beside the editor."""
        from forms_app.rendering import render_display_field
        from forms_app.validation import DISPLAY_TYPES

        schema = self._posted_json(request).get("schema")
        raw = schema.get("fields") if isinstance(schema, dict) else None
        fields = []
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict):
                continue
            field = dict(item)
            if field.get("type") in DISPLAY_TYPES:
                field["rendered"] = render_display_field(field)
            if not isinstance(field.get("options"), list):
                field["options"] = []
            fields.append(field)
        return TemplateResponse(request, "admin/forms_app/form/preview.html", {"fields": fields})

    @admin.display(description="Preview")
    def preview_link(self, obj):
        if not obj or not obj.pk:
            return "—"
        return format_html('<a href="/forms/{}/" target="_blank" rel="noopener">Open the form page</a>', obj.pk)

    @staticmethod
    def _audit_snapshot(form: Form) -> dict:
        """The audited fields and the approver roles (saved with the other many-to-many fields)."""
        return {
            **snapshot(form, AUDIT_FIELDS),
            "approver_role_ids": sorted(str(pk) for pk in form.approver_roles.values_list("pk", flat=True)),
        }

    def save_model(self, request, obj, form, change):
        form.audit_before = self._audit_snapshot(Form.objects.get(pk=obj.pk)) if change else None
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """After the approver roles are saved: one audit entry for the whole change."""
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit.record(
            action="form.update" if change else "form.create",
            resource_type="form",
            resource_id=obj.pk,
            actor=request.user,
            organization=obj.organization_id,
            changes=diff(getattr(form, "audit_before", None), self._audit_snapshot(obj)),
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
