"""GET /api/usage: usage per organization for a month (DESIGN §20, docs/usage.md); platform admins only."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from bifrost_site.api.docs import errors
from bifrost_site.api.viewsets import BifrostAPIView
from executions.usage import STATUSES, month_bounds, usage_csv, usage_for_month


class UsageQuerySerializer(serializers.Serializer):
    month = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="The month, YYYY-MM (UTC); the current month when left out.",
        error_messages={"invalid": "Use YYYY-MM."},
    )
    organization = serializers.UUIDField(required=False, help_text="Only this organization.")

    def validate_month(self, value):
        try:
            month_bounds(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class OrganizationUsageSerializer(serializers.Serializer):
    organization_id = serializers.UUIDField(allow_null=True, help_text="null: GLOBAL runs.")
    organization_name = serializers.CharField()
    runs = serializers.DictField(child=serializers.IntegerField(), help_text=f"Runs by status: {', '.join(STATUSES)}.")
    runs_total = serializers.IntegerField()
    duration_total_ms = serializers.IntegerField(help_text="Sum of the runs' durations.")
    duration_p95_ms = serializers.FloatField(allow_null=True, help_text="95th percentile of the durations.")
    cpu_seconds = serializers.FloatField(help_text="CPU time of the worker children that ran them.")
    approvals_decided = serializers.IntegerField(help_text="Approvals approved or rejected in the month.")
    time_saved_minutes = serializers.IntegerField(help_text="Successful runs × the workflow's time_saved_minutes.")


class UsageSerializer(serializers.Serializer):
    month = serializers.CharField()
    organizations = OrganizationUsageSerializer(many=True)


class CSVRenderer(BaseRenderer):
    """`?format=csv`: the month's rows for billing (errors as a one-line text)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "organizations" in data:
            return usage_csv(data["month"], data["rows"]).encode("utf-8")
        return (f"error: {data.get('message', data) if isinstance(data, dict) else data}\n").encode()


class UsageView(BifrostAPIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        summary="Usage per organization for a month (runs, durations, CPU, approvals, time saved)",
        description=(
            "Platform admins. Runs created in the month (UTC), per organization (GLOBAL runs have "
            "`organization_id` null); with X-Organization-Id or `organization`, only that organization. "
            "`format=csv` answers text/csv for billing. docs/usage.md explains each figure."
        ),
        parameters=[
            UsageQuerySerializer,
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: one row per organization"),
        ],
        responses={
            200: OpenApiResponse(UsageSerializer, description="JSON, or text/csv with format=csv"),
            **errors(400),
        },
        tags=["usage"],
    )
    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization_id = query.validated_data.get("organization")
        month = query.validated_data.get("month") or timezone.now().strftime("%Y-%m")
        scoped = request.scope.organization_id if request.scope is not None else None
        if scoped is not None and organization_id not in (None, scoped):
            rows = []  # scoped to one organization: another one's figures are simply not there
        else:
            rows = usage_for_month(month=month, organization_id=scoped or organization_id)
        data = UsageSerializer({"month": month, "organizations": [vars(row) for row in rows]}).data
        if request.accepted_renderer.format == "csv":
            response = Response({**data, "rows": rows}, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="bifrost-usage-{month}.csv"'
            return response
        return Response(data)
