import django_filters

from bifrost_site.api.filters import UTCIsoDateTimeFilter
from executions.models import Execution, ExecutionStatus, Trigger


class ExecutionFilterSet(django_filters.FilterSet):
    """Filters of `GET /api/executions` (DESIGN §6). Ordering is handled by OrderingFilter."""

    workflow_name = django_filters.CharFilter(field_name="workflow_name", help_text="Exact workflow name.")
    status = django_filters.MultipleChoiceFilter(
        choices=ExecutionStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    form = django_filters.UUIDFilter(field_name="form_id", help_text="Id of the form that started the execution.")
    executed_by = django_filters.UUIDFilter(field_name="executed_by_id", help_text="Id of the user who ran it.")
    trigger = django_filters.MultipleChoiceFilter(choices=Trigger.choices)
    started_after = UTCIsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", help_text="ISO 8601; started at or after."
    )
    started_before = UTCIsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", help_text="ISO 8601; started before."
    )
    organization = django_filters.UUIDFilter(
        field_name="organization_id",
        help_text="Narrow a GLOBAL admin's view to one organization (inside a scope it can only narrow further).",
    )

    class Meta:
        model = Execution
        fields = [
            "workflow_name",
            "status",
            "form",
            "executed_by",
            "trigger",
            "started_after",
            "started_before",
            "organization",
        ]
