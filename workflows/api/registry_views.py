"""Workflow registry, execute, reload and data providers (DESIGN §6 "workflows"); admins only.

Everything here reads the database: workspace code is imported only in workers.
"""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from bifrost_site.api.docs import error
from bifrost_site.api.throttling import RunRateThrottle
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet
from executions import services as execution_services
from executions.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from executions.idempotency import idempotency_from_request
from executions.models import Trigger
from executions.presenters import RUN_RESPONSES, started_run_response
from workflows import services as workflow_services
from workflows.api.registry_serializers import (
    DataProviderCallSerializer,
    DataProviderOptionsSerializer,
    DataProviderSerializer,
    ReloadAcceptedSerializer,
    WorkflowExecuteSerializer,
    WorkflowLimitsSerializer,
    WorkflowSerializer,
)
from workflows.api.version_serializers import WorkflowVersionWithSourceSerializer
from workflows.models import DataProvider, Workflow
from workflows.selectors import source_masker, workflow_versions

ERRORS = {401: error("Not authenticated"), 403: error("Platform administrators only")}


class _RegistryViewSet(BifrostReadOnlyViewSet):
    """The registry is global (not organization-owned): scope does not narrow it."""

    lookup_field = "name"
    lookup_value_regex = "[a-z0-9_]+"

    def scoped_queryset(self, queryset):
        return queryset

    def filter_queryset(self, queryset):
        params = self.request.query_params
        if params.get("category"):
            queryset = queryset.filter(category=params["category"])
        if params.get("is_available") in ("true", "false"):
            queryset = queryset.filter(is_available=params["is_available"] == "true")
        if params.get("q"):
            queryset = queryset.filter(Q(name__icontains=params["q"]) | Q(description__icontains=params["q"]))
        return queryset


LIST_FILTERS = [
    OpenApiParameter("category", str, description="Exact category"),
    OpenApiParameter("is_available", bool, description="Only (un)available entries"),
    OpenApiParameter("q", str, description="Search name and description"),
]


@extend_schema_view(
    list=extend_schema(
        summary="List workflows", parameters=LIST_FILTERS, responses={200: WorkflowSerializer(many=True), **ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a workflow",
        responses={200: WorkflowSerializer, 404: error("Unknown workflow"), **ERRORS},
    ),
)
class WorkflowViewSet(_RegistryViewSet):
    queryset = Workflow.objects.all()
    serializer_class = WorkflowSerializer

    def get_throttles(self):
        if self.action == "execute":
            return [RunRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="Set a workflow's concurrency limit and time saved per run",
        description=(
            "`max_concurrency`: runs of this workflow admitted at once across organizations; it overrides the "
            "`@workflow(max_concurrency=...)` declaration (null = use the declaration). `time_saved_minutes`: "
            "the minutes one successful run saves, for usage reports; it overrides "
            "`@workflow(time_saved_minutes=...)` (null = use the declaration). `approval`: the approval each run "
            "needs (DESIGN §16), overriding `@workflow(approval=...)`; `{}` = none, null = the declaration. "
            "Discovery keeps all three."
        ),
        request=WorkflowLimitsSerializer,
        responses={200: WorkflowSerializer, 400: error("Invalid value"), 404: error("Unknown workflow"), **ERRORS},
    )
    def partial_update(self, request, name=None):
        workflow = self.get_object()
        serializer = WorkflowLimitsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "max_concurrency" in serializer.validated_data:
            workflow = workflow_services.workflow_limits_update(
                workflow=workflow, user=request.user, max_concurrency=serializer.validated_data["max_concurrency"]
            )
        if "time_saved_minutes" in serializer.validated_data:
            workflow = workflow_services.workflow_time_saved_update(
                workflow=workflow, user=request.user, minutes=serializer.validated_data["time_saved_minutes"]
            )
        if "approval" in serializer.validated_data:
            from approvals.services import workflow_approval_policy_update

            workflow = workflow_approval_policy_update(
                workflow=workflow, user=request.user, policy=serializer.validated_data["approval"]
            )
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(
        summary="The stored sources of a workflow, newest first (DESIGN §20)",
        description=(
            "Each distinct source of the workflow's module that discovery saw or a worker ran, with the git "
            "commit when a git sync brought it; `is_current` marks the source discovery sees today."
        ),
        responses={200: WorkflowVersionWithSourceSerializer(many=True), 404: error("Unknown workflow"), **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def versions(self, request, name=None):
        workflow = self.get_object()
        page = self.paginate_queryset(workflow_versions(workflow))
        serializer = WorkflowVersionWithSourceSerializer(
            page, many=True, context={"current_source_hash": workflow.source_hash, "masker": source_masker()}
        )
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary="Run a workflow",
        description=(
            "Validates and coerces `parameters`, then admits the run (DESIGN §15): under the workflow's and the "
            "organization's concurrency limits it is queued at once; over one it is accepted and waits "
            "(`Pending` with `waiting_reason`). Sync workflows answer 200 with the result (or 202 if the result "
            "is not ready within the web timeout); async ones answer 202 at once. `run_at` defers the run "
            "(202, status `Scheduled`)."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=WorkflowExecuteSerializer,
        responses={
            **RUN_RESPONSES,
            400: error("Invalid parameters (each bad field named)"),
            404: error("Unknown workflow"),
            409: error("Workflow unavailable (import error or vanished file)"),
            422: error("Idempotency-Key already used with a different body"),
            429: error("Too many runs started by this user (Retry-After), or the organization's monthly run quota"),
            503: error("Task queue unreachable; the execution is marked Failed"),
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def execute(self, request, name=None):
        serializer = WorkflowExecuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parameters = data.get("parameters") or {}
        idempotency = idempotency_from_request(
            request,
            target=f"workflow:{name}:{request.scope.organization_id or 'GLOBAL'}",
            body={"parameters": parameters, "run_at": data.get("run_at")},
        )
        started = execution_services.execution_start(
            workflow_name=name,
            parameters=parameters,
            trigger=Trigger.MANUAL,
            organization=request.scope.organization,
            user=request.user,
            idempotency=idempotency,
            run_at=data.get("run_at"),
        )
        return started_run_response(started, request=request)

    @extend_schema(
        summary="Re-import the workspace",
        description="Queues discovery in a worker; follow it at /api/workspace/jobs/{job_id}.",
        request=None,
        responses={202: ReloadAcceptedSerializer, 503: error("Task queue unreachable"), **ERRORS},
    )
    @action(detail=False, methods=["post"])
    def reload(self, request):
        job = workflow_services.workflows_reload(user=request.user)
        return Response({"job_id": str(job.id), "status": job.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(
        summary="List data providers",
        parameters=LIST_FILTERS,
        responses={200: DataProviderSerializer(many=True), **ERRORS},
    ),
)
class DataProviderViewSet(_RegistryViewSet):
    queryset = DataProvider.objects.all()
    serializer_class = DataProviderSerializer

    @extend_schema(
        summary="Get a data provider's options",
        description="Runs the provider in a worker (or answers from the cache) for `inputs` in the current scope.",
        request=DataProviderCallSerializer,
        responses={
            200: DataProviderOptionsSerializer,
            400: error("Invalid inputs or the provider failed"),
            404: error("Unknown data provider"),
            409: error("Data provider unavailable"),
            503: error("No worker answered in time"),
            **ERRORS,
        },
    )
    def call(self, request, name=None):
        serializer = DataProviderCallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options, cached = workflow_services.data_provider_options(
            name=name, inputs=serializer.validated_data.get("inputs") or {}, organization=request.scope.organization
        )
        return Response({"options": options, "cached": cached})
