from django.contrib import admin
from django.contrib.admin.views.main import ChangeList

from audit.models import AuditLog
from bifrost_site.admin_tools import ReadOnlyAdminMixin
from bifrost_site.resource_names import resource_ids_named, resource_names


class AuditChangeList(ChangeList):
    """The page's entries carry their resource's name (`resource_name`), read in bulk for the page."""

    def get_results(self, request):
        super().get_results(request)
        names = resource_names((entry.resource_type, entry.resource_id) for entry in self.result_list)
        for entry in self.result_list:
            entry.resource_name = names.get((entry.resource_type, str(entry.resource_id)), "")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: entries are append-only."""

    list_display = ["created_at", "action", "actor_name", "organization", "resource_type", "resource", "ip_address"]
    list_filter = ["action", "resource_type", "organization"]
    # Also searchable by the resource's name (get_search_results).
    search_fields = ["action", "actor_name", "resource_id", "request_id"]
    search_help_text = "Action, actor, the resource's name or id, or a request id."
    list_select_related = ["organization"]
    date_hierarchy = "created_at"

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            named = resource_ids_named(term)
            if named:
                results |= queryset.filter(resource_id__in=named)
        return results, may_have_duplicates

    @admin.display(description="resource", ordering="resource_id")
    def resource(self, obj):
        name = getattr(obj, "resource_name", None)
        if name is None:  # the change page: one entry
            name = resource_names([(obj.resource_type, obj.resource_id)]).get((obj.resource_type, obj.resource_id), "")
        if name and name != obj.resource_id:
            return f"{name} ({obj.resource_id})"
        return obj.resource_id or "-"

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "resource"]
