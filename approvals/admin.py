from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from approvals.models import Approval
from bifrost_site.admin_tools import ReadOnlyAdminMixin


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: decisions are made on /approvals/ or through the API (four eyes, audited)."""

    list_display = [
        "workflow_name",
        "organization",
        "status",
        "requested_by_name",
        "decided_by_name",
        "expires_at",
        "created_at",
        "run",
    ]
    list_filter = ["status", "organization", "policy_source", "workflow_name"]
    search_fields = ["workflow_name", "requested_by_name", "decided_by_name", "comment"]
    list_select_related = ["organization", "execution"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Approval._meta.fields] + ["approver_roles", "run"]
    actions = None

    @admin.display(description="run")
    def run(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("executions:detail", args=[obj.execution_id]), obj.execution.status
        )
