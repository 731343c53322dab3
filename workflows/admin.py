from django.contrib import admin

from workflows.models import (
    DataProvider,
    ScheduleTick,
    Workflow,
    WorkflowKey,
    WorkspaceGitSettings,
    WorkspaceJob,
    WorkspaceJobLog,
)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Registry rows come from discovery; only the schedule overlap policy is edited here."""

    list_display = [
        "name",
        "category",
        "execution_mode",
        "schedule",
        "endpoint_enabled",
        "is_available",
        "discovered_at",
    ]
    list_filter = ["is_available", "category", "execution_mode", "endpoint_enabled"]
    search_fields = ["name", "description", "source_path"]
    readonly_fields = [f.name for f in Workflow._meta.fields if f.name != "schedule_overlap"]

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
    ]
    inlines = [WorkspaceJobLogInline]

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
