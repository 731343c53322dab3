from django.contrib import admin
from django.utils.html import format_html

from bifrost_site.templatetags.portal import format_duration
from executions.models import Execution, ExecutionLog


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    # The columns an MSP admin scans (issue 21 items 1 and 4), narrow enough for a 1400 px window: the id is
    # searchable and on the change page, the workflow name links there.
    list_display = [
        "workflow_name",
        "organization",
        "status",
        "trigger",
        "executed_by_name",
        "created_at",
        "duration",
        "log_viewer",
    ]
    list_display_links = ["workflow_name"]
    list_filter = ["status", "trigger", "organization"]
    search_fields = ["id", "workflow_name", "executed_by_name"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["log_viewer"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj):
        return format_duration(obj.duration_ms)

    @admin.display(description="Logs")
    def log_viewer(self, obj):
        return format_html('<a href="/executions/{}/">live log</a>', obj.id)


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    list_display = ["execution", "sequence", "level", "message", "timestamp"]
    list_filter = ["level"]
    show_full_result_count = False
    raw_id_fields = ["execution"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
