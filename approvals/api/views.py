from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from approvals import services
from approvals.api.serializers import ApprovalDecisionSerializer, ApprovalSerializer
from approvals.filtersets import ApprovalFilterSet
from approvals.models import Approval
from approvals.selectors import approvals_decidable_by, approvals_visible_to
from bifrost_site.api.docs import ERROR, errors
from bifrost_site.api.permissions import IsAuthenticatedUser
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet


@extend_schema_view(
    list=extend_schema(
        summary="Approvals the caller may decide or requested (platform admins: every one in scope)",
        responses={200: ApprovalSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(summary="One approval", responses={200: ApprovalSerializer, **errors(404)}),
)
@extend_schema(tags=["approvals"])
class ApprovalViewSet(BifrostReadOnlyViewSet):
    queryset = Approval.objects.all()
    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilterSet
    permission_classes = [IsAuthenticatedUser]
    ordering_fields = ["created_at", "expires_at", "decided_at"]
    ordering = ["-created_at", "-id"]

    def scoped_queryset(self, queryset):
        return (
            approvals_visible_to(self.scope)
            .select_related("organization", "execution")
            .prefetch_related("approver_roles")
        )

    def _context(self, approvals) -> dict:
        ids = [a.pk for a in approvals]
        decidable = set(approvals_decidable_by(self.scope).filter(id__in=ids).values_list("id", flat=True))
        return {**self.get_serializer_context(), "decidable_ids": decidable}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ApprovalSerializer(page, many=True, context=self._context(page)).data)

    def retrieve(self, request, *args, **kwargs):
        approval = self.get_object()
        return Response(ApprovalSerializer(approval, context=self._context([approval])).data)

    def _decide(self, request, decide):
        approval = self.get_object()
        serializer = ApprovalDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decide(approval_id=approval.pk, user=request.user, comment=serializer.validated_data["comment"])
        return self.retrieve(request)

    @extend_schema(
        summary="Approve: the run goes through admission with the parameters as submitted",
        description="403 for the requester (four eyes) or a user who is not an approver; 409 when already "
        "decided or expired.",
        request=ApprovalDecisionSerializer,
        responses={200: ApprovalSerializer, **errors(400, 404, 409)},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request, pk=None):
        return self._decide(request, services.approval_approve)

    @extend_schema(
        summary="Reject: the run ends Rejected",
        description="403 for the requester (four eyes) or a user who is not an approver; 409 when already "
        "decided or expired.",
        request=ApprovalDecisionSerializer,
        responses={200: ApprovalSerializer, 400: ERROR, **errors(404, 409)},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request, pk=None):
        return self._decide(request, services.approval_reject)
