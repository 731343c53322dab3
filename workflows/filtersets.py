import django_filters

from workflows.models import Schedule, ScheduleTarget, WorkflowKey


class WorkflowKeyFilterSet(django_filters.FilterSet):
    workflow = django_filters.CharFilter(field_name="workflow__name")
    is_global = django_filters.BooleanFilter(field_name="workflow", lookup_expr="isnull")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = WorkflowKey
        fields = ["workflow", "is_global", "revoked"]


class ScheduleFilterSet(django_filters.FilterSet):
    workflow = django_filters.CharFilter(field_name="workflow__name", help_text="Workflow name")
    organization = django_filters.UUIDFilter(field_name="organization", help_text="Organization id")
    is_global = django_filters.BooleanFilter(field_name="organization", lookup_expr="isnull")
    enabled = django_filters.BooleanFilter()
    target = django_filters.ChoiceFilter(choices=ScheduleTarget.choices)

    class Meta:
        model = Schedule
        fields = ["workflow", "organization", "is_global", "enabled", "target"]
