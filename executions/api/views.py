"""Execution history API (DESIGN §6): admins see their scope, ORG users only their own executions."""

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import filters
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from bifrost_site.api.docs import ERROR
from bifrost_site.api.pagination import BifrostCursorPagination
from bifrost_site.api.permissions import IsAuthenticatedUser, IsPlatformAdmin
from bifrost_site.api.throttling import RunRateThrottle
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet
from executions.api.serializers import (
    ExecutionDetailSerializer,
    ExecutionListSerializer,
    ExecutionLogPageSerializer,
    ExecutionLogQuerySerializer,
    ExecutionLogSerializer,
    ExecutionResultSerializer,
    ExecutionVariablesSerializer,
)
from executions.filtersets import ExecutionFilterSet
from executions.models import Execution
from executions.presenters import RUN_RESPONSES
from executions.selectors import execution_logs_visible, executions_visible_to
from workflows.api.version_serializers import ExecutionSourceSerializer
from workflows.selectors import execution_code_changed, execution_source

ADMIN_ONLY_ACTIONS = frozenset({"variables", "rerun", "source"})
# What ExecutionListSerializer reads, and nothing else: loading fewer columns (and no JSON) is the cheaper page.
LIST_COLUMNS = (
    *(name for name in ExecutionListSerializer.Meta.fields if name not in ("is_complete", "organization_name")),
    "organization__name",
)


class ExecutionOrderingFilter(filters.OrderingFilter):
    """`ordering=created_at` or `-created_at`; `id` is appended as a tie-breaker for stable cursors."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering = [*ordering, "-id" if ordering[0].startswith("-") else "id"]
        return ordering


class ExecutionCursorPagination(BifrostCursorPagination):
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="List executions (admins: their scope; users: their own)",
        responses={200: ExecutionListSerializer(many=True), 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR},
        tags=["executions"],
    ),
    retrieve=extend_schema(
        summary="One execution with parameters, result and the error as the caller may see it",
        responses={200: ExecutionDetailSerializer, 401: ERROR, 404: ERROR},
        tags=["executions"],
    ),
)
class ExecutionViewSet(BifrostReadOnlyViewSet):
    queryset = Execution.objects.all()
    serializer_class = ExecutionDetailSerializer
    pagination_class = ExecutionCursorPagination
    filterset_class = ExecutionFilterSet
    filter_backends = [DjangoFilterBackend, ExecutionOrderingFilter]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_throttles(self):
        if self.action == "rerun":  # `@action(throttle_classes=…)` is not applied to hand-routed views
            return [RunRateThrottle()]
        return super().get_throttles()

    def get_permissions(self):
        if self.action in ADMIN_ONLY_ACTIONS:
            return [IsPlatformAdmin()]
        return [IsAuthenticatedUser()]

    def scoped_queryset(self, queryset):
        visible = executions_visible_to(self.scope)
        if self.action == "list":
            return visible.select_related("organization").only(*LIST_COLUMNS)
        return visible.select_related("organization")

    def get_serializer_class(self):
        if self.action == "list":
            return ExecutionListSerializer
        return ExecutionDetailSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "scope": self.scope}

    def get_object(self):
        # Detail routes ignore list filters and ordering: the object is looked up in the visible set only.
        try:
            obj = self.get_queryset().filter(id=self.kwargs["pk"]).first()
        except Exception as exc:  # a malformed id is simply not found
            from django.core.exceptions import ValidationError

            if not isinstance(exc, ValidationError | ValueError):
                raise
            obj = None
        if obj is None:
            raise Http404("Execution not found.")
        self.check_object_permissions(self.request, obj)
        return obj

    @extend_schema(
        summary="Log lines after a sequence (keyset pagination by sequence)",
        parameters=[ExecutionLogQuerySerializer],
        responses={200: ExecutionLogPageSerializer, 400: ERROR, 401: ERROR, 404: ERROR},
        tags=["executions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def logs(self, request, pk=None):
        execution = self.get_object()
        query = ExecutionLogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        lines = list(execution_logs_visible(execution, self.scope, after=after)[: limit + 1])
        has_more = len(lines) > limit
        lines = lines[:limit]
        last_sequence = lines[-1].sequence if lines else after
        next_url = None
        if has_more:
            next_url = replace_query_param(request.build_absolute_uri(), "after", last_sequence)
        return Response(
            {
                "results": ExecutionLogSerializer(lines, many=True).data,
                "next": next_url,
                "last_sequence": last_sequence,
                "is_complete": execution.is_complete,
            }
        )

    @extend_schema(
        summary="The execution's result and result type",
        responses={200: ExecutionResultSerializer, 401: ERROR, 404: ERROR},
        tags=["executions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def result(self, request, pk=None):
        execution = self.get_object()
        return Response(
            {
                "execution_id": execution.id,
                "status": execution.status,
                "is_complete": execution.is_complete,
                "result_type": execution.result_type,
                "result": execution.result,
            }
        )

    @extend_schema(
        summary="The workflow's local variables at return or exception (platform admins only)",
        responses={200: ExecutionVariablesSerializer, 401: ERROR, 403: ERROR, 404: ERROR},
        tags=["executions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def variables(self, request, pk=None):
        execution = self.get_object()
        return Response({"execution_id": execution.id, "variables": execution.variables})

    @extend_schema(
        summary="The exact workflow code the execution ran (platform admins only, DESIGN §20)",
        description=(
            "The module source the worker imported for this run (a WorkflowVersion; workflow code never holds "
            "secret values, which come from `secrets.get` at run time) and whether today's source differs. "
            "`version`, `source` and `code_changed` are null when the run recorded no version."
        ),
        responses={200: ExecutionSourceSerializer, 401: ERROR, 403: ERROR, 404: ERROR},
        tags=["executions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def source(self, request, pk=None):
        execution = self.get_object()
        data = execution_source(execution)
        return Response(
            ExecutionSourceSerializer(data, context={"current_source_hash": data["current_source_hash"]}).data
        )

    @extend_schema(
        summary="Cancel a pending or running execution (admins in scope; users their own)",
        request=None,
        responses={200: ExecutionDetailSerializer, 400: ERROR, 401: ERROR, 404: ERROR},
        tags=["executions"],
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request, pk=None):
        from executions.services import execution_cancel

        execution = execution_cancel(execution=self.get_object(), user=request.user)
        return Response(ExecutionDetailSerializer(execution, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Run the workflow again with the same parameters (trigger=rerun, rerun_of set)",
        description="Answers like execute: a sync workflow 200 with the result (202 if not done in time), async 202.",
        request=None,
        responses={
            **RUN_RESPONSES,
            400: ERROR,
            401: ERROR,
            403: ERROR,
            404: ERROR,
            409: ERROR,
            429: ERROR,
            503: ERROR,
        },
        tags=["executions"],
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def rerun(self, request, pk=None):
        from executions.presenters import started_run_response
        from executions.services import execution_rerun

        original = self.get_object()
        started = execution_rerun(execution=original, user=request.user)
        response = started_run_response(started, request=request)
        # DESIGN §20: whether the workflow's code changed since the original run (null: unknown)
        response.data["code_changed"] = execution_code_changed(original)
        return response
