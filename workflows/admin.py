from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from workflows.models import (
    DataProvider,
    ScheduleTick,
    Workflow,
    WorkflowKey,
    WorkspaceGitSettings,
    WorkspaceJob,
    WorkspaceJobLog,
)


class WorkflowAdminForm(forms.ModelForm):
    class Meta:
        model = Workflow
        fields = ["schedule_overlap", "approval_policy_override"]
        help_texts = {
            "approval_policy_override": 'Overrides @workflow(approval=...): {"approver_roles": ["…"], '
            '"timeout_hours": 72}; {} = no approval; empty = the declaration (docs/approvals.md).'
        }

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
class WorkflowAdmin(admin.ModelAdmin):
    """Registry rows come from discovery; only the schedule overlap policy and the approval override are edited
    here."""

    form = WorkflowAdminForm

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
