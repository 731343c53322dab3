import django_filters

from approvals.models import Approval, ApprovalStatus


class ApprovalFilterSet(django_filters.FilterSet):
    """Filters of `GET /api/approvals` (DESIGN §16). Ordering is handled by OrderingFilter."""

    status = django_filters.MultipleChoiceFilter(
        choices=ApprovalStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    organization = django_filters.UUIDFilter(
        field_name="organization_id",
        help_text="Narrow a GLOBAL admin's view to one organization (inside a scope it can only narrow further).",
    )
    workflow_name = django_filters.CharFilter(field_name="workflow_name", help_text="Exact workflow name.")
    requested_by = django_filters.UUIDFilter(field_name="requested_by_id", help_text="Id of the requester.")

    class Meta:
        model = Approval
        fields = ["status", "organization", "workflow_name", "requested_by"]
