from django.contrib import admin

from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: entries are append-only."""

    list_display = ["created_at", "action", "actor_name", "organization", "resource_type", "resource_id", "ip_address"]
    list_filter = ["action", "resource_type", "organization"]
    search_fields = ["action", "actor_name", "resource_id", "request_id"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
