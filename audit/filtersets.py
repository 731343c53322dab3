import django_filters

from audit.models import AuditLog
from bifrost_site.api.filters import UTCIsoDateTimeFilter


class AuditLogFilterSet(django_filters.FilterSet):
    action = django_filters.CharFilter(help_text="Exact action, e.g. organization.create.")
    action_prefix = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="Actions starting with this, e.g. 'user.'."
    )
    actor = django_filters.UUIDFilter(field_name="actor_id", help_text="The acting user's id.")
    actor_name = django_filters.CharFilter(lookup_expr="iexact")
    resource_type = django_filters.CharFilter()
    resource_id = django_filters.CharFilter()
    organization = django_filters.UUIDFilter(field_name="organization_id")
    request_id = django_filters.CharFilter()
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditLog
        fields = ["action", "resource_type", "resource_id"]
