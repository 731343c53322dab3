import base64

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from audit import signing
from audit.api.serializers import AuditExportQuerySerializer, AuditLogSerializer, AuditPublicKeySerializer
from audit.export import export_lines
from audit.filtersets import AuditLogFilterSet
from audit.models import AuditLog
from audit.selectors import audit_export_rows
from bifrost_site.api.docs import ORG_SCOPE_PARAMETER, errors
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet

NDJSON = "application/x-ndjson"


class NDJSONRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/x-ndjson`; the export streams its own bytes, and an
    error body is written as one JSON line."""

    media_type = NDJSON
    format = "ndjson"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data) + b"\n"


@extend_schema_view(
    list=extend_schema(
        summary="The audit trail (GLOBAL scope: every organization; with X-Organization-Id: that one)",
        responses={200: AuditLogSerializer(many=True), **errors(400, 404)},
    ),
    retrieve=extend_schema(summary="One audit entry", responses={200: AuditLogSerializer, **errors(400, 404)}),
)
@extend_schema(tags=["audit"], parameters=[ORG_SCOPE_PARAMETER])
class AuditLogViewSet(BifrostReadOnlyViewSet):
    """Read-only: entries are append-only (a database trigger refuses UPDATE and DELETE) and hash-chained."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilterSet
    ordering_fields = ["created_at", "action"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        summary="Signed NDJSON export of the audit log (docs/audit.md shows how to verify it offline)",
        description=(
            "One line per entry in chain order (canonical fields, sequence, previous_hash, entry_hash), then "
            '`{"key_id": "…", "signature": "…"}`: the base64 Ed25519 signature over the exact bytes of every '
            "line before it, newlines included. The public key is at /api/audit-logs/public-key."
        ),
        parameters=[AuditExportQuerySerializer],
        responses={(200, NDJSON): OpenApiResponse(OpenApiTypes.STR, description="NDJSON"), **errors(400, 404)},
    )
    @action(detail=False, methods=["get"], url_path="export", renderer_classes=[JSONRenderer, NDJSONRenderer])
    def export(self, request):
        query = AuditExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = audit_export_rows(
            self.filter_queryset(self.get_queryset()),
            start=query.validated_data.get("from"),
            end=query.validated_data.get("to"),
        )
        response = StreamingHttpResponse(export_lines(rows), content_type=f"{NDJSON}; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-log.ndjson"'
        return response

    @extend_schema(
        summary="The public key that verifies audit-log exports",
        responses={200: AuditPublicKeySerializer, **errors()},
    )
    @action(detail=False, methods=["get"], url_path="public-key", filter_backends=[], pagination_class=None)
    def public_key(self, request):
        return Response(
            AuditPublicKeySerializer(
                {
                    "algorithm": "Ed25519",
                    "key_id": signing.key_id(),
                    "public_key": base64.b64encode(signing.public_key_bytes()).decode("ascii"),
                    "public_key_pem": signing.public_key_pem(),
                }
            ).data
        )
