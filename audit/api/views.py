from drf_spectacular.utils import extend_schema, extend_schema_view

from audit.api.serializers import AuditLogSerializer
from audit.filtersets import AuditLogFilterSet
from audit.models import AuditLog
from bifrost_site.api.docs import ORG_SCOPE_PARAMETER, errors
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet


@extend_schema_view(
    list=extend_schema(
        summary="The audit trail (GLOBAL scope: every organization; with X-Organization-Id: that one)",
        responses={200: AuditLogSerializer(many=True), **errors(400, 404)},
    ),
    retrieve=extend_schema(summary="One audit entry", responses={200: AuditLogSerializer, **errors(400, 404)}),
)
@extend_schema(tags=["audit"], parameters=[ORG_SCOPE_PARAMETER])
class AuditLogViewSet(BifrostReadOnlyViewSet):
    """Read-only: entries are append-only (a database trigger refuses UPDATE and DELETE)."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilterSet
    ordering_fields = ["created_at", "action"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "head", "options"]
