from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.admin_mixins import AuditedAdminMixin
from bifrost_site.admin_tools import ExplainedConstraintsMixin, JSONEditorField, ReadOnlyAdminMixin
from workflows.models import (
    DataProvider,
    Schedule,
    ScheduleTarget,
    ScheduleTick,
    Workflow,
    WorkflowKey,
    WorkflowVersion,
    WorkspaceGitSettings,
    WorkspaceJob,
    WorkspaceJobLog,
)


class WorkflowAdminForm(forms.ModelForm):
    approval_policy_override = JSONEditorField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField bifrost-json"}),
        help_text='Overrides @workflow(approval=...): {"approver_roles": ["…"], "timeout_hours": 72}; {} = no '
        "approval; empty = the declaration (docs/approvals.md).",
    )

    class Meta:
        model = Workflow
        fields = ["schedule_overlap", "approval_policy_override"]

    def clean_approval_policy_override(self):
        from bifrost.decorators import validate_approval_policy
        from bifrost.errors import WorkflowDefinitionError

        value = self.cleaned_data.get("approval_policy_override")
        if value in (None, {}):
            return value
        try:
            return validate_approval_policy("approval", value)
        except WorkflowDefinitionError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Workflow)
class WorkflowAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Registry rows come from discovery; only the schedule overlap policy and the approval override are edited
    here."""

    form = WorkflowAdminForm
    audit_fields = ["schedule_overlap", "approval_policy_override"]

    list_display = [
        "name",
        "category",
        "execution_mode",
        "schedule",
        "schedule_task",
        "endpoint_enabled",
        "is_available",
        "discovered_at",
    ]
    list_filter = ["is_available", "category", "execution_mode", "endpoint_enabled"]
    search_fields = ["name", "description", "source_path"]
    readonly_fields = [
        *(f.name for f in Workflow._meta.fields if f.name not in ("schedule_overlap", "approval_policy_override")),
        "schedule_task",
    ]

    def get_inlines(self, request, obj):
        return [ScheduleInline] if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if formset.model is Schedule:
            save_schedule_formset(request, form.instance, formset)
        else:
            super().save_formset(request, form, formset, change)

    def get_queryset(self, request):
        from django_celery_beat.models import PeriodicTask

        tasks = PeriodicTask.objects.filter(name=Concat(Value("workflow:"), OuterRef("name")))
        return (
            super()
            .get_queryset(request)
            .annotate(
                periodic_task_id=Subquery(tasks.values("id")[:1]),
                periodic_task_enabled=Subquery(tasks.values("enabled")[:1]),
            )
        )

    @admin.display(description="beat schedule")
    def schedule_task(self, obj):
        task_id = getattr(obj, "periodic_task_id", None)
        if task_id is None:
            return "-"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task_id])
        state = "enabled" if obj.periodic_task_enabled else "paused"
        return format_html('<a href="{}">workflow:{} ({})</a>', url, obj.name, state)

    def has_add_permission(self, request):
        return False


class FromGitFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "from_git"

    def lookups(self, request, model_admin):
        return [("yes", "git sync"), ("no", "workspace files")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(git_commit="")
        if self.value() == "no":
            return queryset.filter(git_commit="")
        return queryset


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The sources runs were pinned to (DESIGN §20), read-only: discovery and the worker write them and they
    never change. The page shows the module source (secret values masked, as GET /api/executions/{id}/source
    does) and links to the runs that ran it."""

    list_display = ["workflow", "source_path", "short_hash", "short_commit", "is_current", "created_at"]
    list_display_links = ["short_hash"]
    list_filter = [FromGitFilter, ("workflow", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["^source_hash", "^git_commit", "workflow__name"]
    list_select_related = ["workflow"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = [
        "workflow",
        "source_path",
        "source_hash",
        "git_commit",
        "created_at",
        "is_current",
        "executions_link",
        "source_code",
    ]
    readonly_fields = fields

    @admin.display(description="hash", ordering="source_hash")
    def short_hash(self, obj):
        return obj.source_hash[:12]

    @admin.display(description="git commit", ordering="git_commit")
    def short_commit(self, obj):
        return obj.git_commit[:12] or "-"

    @admin.display(description="current source", boolean=True)
    def is_current(self, obj):
        return obj.workflow.source_hash == obj.source_hash

    @admin.display(description="runs")
    def executions_link(self, obj):
        url = reverse("admin:executions_execution_changelist") + f"?workflow_version__exact={obj.pk}"
        return format_html('<a href="{}">the runs that ran this source</a>', url)

    @admin.display(description="source")
    def source_code(self, obj):
        from workflows.selectors import source_masker

        return format_html(
            '<pre class="bifrost-source" style="font-family: monospace; white-space: pre; overflow-x: auto; '
            'max-height: 70vh">{}</pre>',
            source_masker().mask(obj.source),
        )


@admin.register(DataProvider)
class DataProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "cache_ttl_seconds", "is_available"]
    list_filter = ["is_available", "category"]
    search_fields = ["name", "description"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WorkflowKey)
class WorkflowKeyAdmin(admin.ModelAdmin):
    list_display = ["key_prefix", "workflow", "description", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["key_prefix", "description", "workflow__name"]
    readonly_fields = ["hashed_key", "key_prefix", "last_used_at", "created_by"]

    def has_add_permission(self, request):
        return False  # keys are created through the API, which shows the raw key once


class WorkspaceJobLogInline(admin.TabularInline):
    model = WorkspaceJobLog
    fields = ["sequence", "stream", "message", "timestamp"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(WorkspaceJob)
class WorkspaceJobAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "status", "requested_by", "started_at", "completed_at"]
    list_filter = ["job_type", "status"]
    readonly_fields = [
        "job_type",
        "status",
        "parameters",
        "result",
        "error_message",
        "started_at",
        "completed_at",
        "requested_by",
        "output",
    ]
    inlines = [WorkspaceJobLogInline]

    @admin.display(description="output")
    def output(self, obj):
        lines = obj.logs.order_by("sequence").values_list("message", flat=True)
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>', format_html_join("\n", "{}", ((line,) for line in lines))
        )

    def has_add_permission(self, request):
        return False


@admin.register(WorkspaceGitSettings)
class WorkspaceGitSettingsAdmin(admin.ModelAdmin):
    list_display = ["repo_url", "branch", "credential_secret", "sync_interval_minutes", "last_synced_at", "last_commit"]
    readonly_fields = ["last_synced_at", "last_commit", "updated_by"]


@admin.register(ScheduleTick)
class ScheduleTickAdmin(admin.ModelAdmin):
    list_display = ["workflow_name", "scheduled_for", "outcome", "execution"]
    list_filter = ["outcome"]
    search_fields = ["workflow_name"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


# --- a workflow's schedules, edited on its page (DESIGN §15, §18; issue 21 item 3) ----------------------


class ScheduleInlineForm(ExplainedConstraintsMixin, forms.ModelForm):
    """A schedule row, checked as the schedules API checks it (cron, time zone, parameters against the
    workflow's); saved through workflows.services.schedules (beat entry and audit). A workflow's default
    schedule follows its decorator: only `enabled` and the time zone are edited here, and it is not deleted."""

    parameters = JSONEditorField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField bifrost-json"})
    )

    class Meta:
        model = Schedule
        fields = [
            *("organization", "target", "cron", "timezone", "enabled"),
            *("overlap_policy", "parameters", "description"),
        ]
        widgets = {"description": forms.TextInput(attrs={"size": 40}), "cron": forms.TextInput(attrs={"size": 20})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            fixed = ["organization", "target"]
            if self.instance.is_default:
                fixed = [name for name in self.fields if name not in ScheduleInlineForm.DEFAULT_EDITABLE]
            for name in fixed:
                self.fields[name].disabled = True

    DEFAULT_EDITABLE = ("enabled", "timezone")

    def clean(self):
        from rest_framework.exceptions import ValidationError as APIValidationError

        from bifrost.errors import ParameterValidationError
        from bifrost.params import coerce_parameters
        from workflows.services.schedules import cron_fields, timezone_validate

        cleaned = super().clean()
        if cleaned.get("DELETE") and self.instance.is_default:
            raise forms.ValidationError(
                "A workflow's default schedule comes from @workflow(schedule=...); untick Enabled to pause it."
            )
        if cleaned.get("cron"):
            try:
                cleaned["cron"] = " ".join(cron_fields(cleaned["cron"]))
            except APIValidationError as exc:
                self.add_error("cron", [str(m) for messages in exc.detail.values() for m in messages])
        if cleaned.get("timezone"):
            try:
                timezone_validate(cleaned["timezone"])
            except APIValidationError as exc:
                self.add_error("timezone", [str(m) for messages in exc.detail.values() for m in messages])
        workflow = self.instance.workflow if self.instance.workflow_id else None
        if workflow is not None and not self.instance.is_default:
            try:
                cleaned["parameters"] = coerce_parameters(workflow.parameters, cleaned.get("parameters") or {})
            except ParameterValidationError as exc:
                self.add_error(
                    "parameters", [f"{name}: {' '.join(map(str, msgs))}" for name, msgs in exc.errors.items()]
                )
        target, organization = cleaned.get("target"), cleaned.get("organization")
        if target == ScheduleTarget.ORGANIZATION and organization is None:
            self.add_error("organization", "An organization schedule needs its organization.")
        if target in (ScheduleTarget.GLOBAL, ScheduleTarget.EACH_ORGANIZATION) and organization is not None:
            self.add_error("organization", "A GLOBAL or each-organization schedule has no organization.")
        return cleaned


class ScheduleInline(admin.StackedInline):
    model = Schedule
    form = ScheduleInlineForm
    extra = 0
    fields = [
        "organization",
        "target",
        "cron",
        "cron_preview",
        "timezone",
        "enabled",
        "overlap_policy",
        "parameters",
        "description",
        "is_default",
    ]
    readonly_fields = ["cron_preview", "is_default"]
    verbose_name = "schedule"

    class Media:
        js = ["bifrost_site/admin/schedule_preview.js"]

    verbose_name_plural = "schedules"

    @admin.display(description="runs")
    def cron_preview(self, obj):
        """The saved cron in words, and its next run in the schedule's time zone."""
        from workflows.services.schedules import schedule_describe

        if not obj or not obj.cron:
            return "-"
        try:
            described = schedule_describe(expression=obj.cron, timezone_name=obj.timezone or "UTC")
        except Exception:  # an invalid row shows its cron as it is
            return obj.cron
        upcoming = described.next_runs[0].strftime("%a %d %b %H:%M") if described.next_runs else "-"
        return format_html("{} <span class='mini quiet'>(next: {})</span>", described.human_readable, upcoming)


def _schedule_values(obj, names) -> dict:
    return {name: getattr(obj, name) for name in names}


def save_schedule_formset(request, workflow, formset) -> None:
    """The inline's rows through the schedules service: create, update and delete (beat entries, audit)."""
    from workflows.services.schedules import ROW_FIELDS, schedule_create, schedule_delete, schedule_row_update

    formset.save(commit=False)
    for obj in formset.deleted_objects:
        schedule_delete(schedule=obj, user=request.user)
    for obj, changed in formset.changed_objects:
        values = _schedule_values(obj, [name for name in changed if name in ROW_FIELDS])
        if values:
            schedule_row_update(schedule=Schedule.objects.get(pk=obj.pk), values=values, user=request.user)
    for obj in formset.new_objects:
        schedule_create(
            workflow_name=workflow.name,
            organization=obj.organization,
            values=_schedule_values(obj, ROW_FIELDS),
            user=request.user,
        )
