import django_filters

from workflows.models import WorkflowKey


class WorkflowKeyFilterSet(django_filters.FilterSet):
    workflow = django_filters.CharFilter(field_name="workflow__name")
    is_global = django_filters.BooleanFilter(field_name="workflow", lookup_expr="isnull")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = WorkflowKey
        fields = ["workflow", "is_global", "revoked"]
