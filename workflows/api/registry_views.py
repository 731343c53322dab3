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
from executions.models import Trigger
from executions.presenters import RUN_RESPONSES, started_run_response
from workflows import services as workflow_services
from workflows.api.registry_serializers import (
    DataProviderCallSerializer,
    DataProviderOptionsSerializer,
    DataProviderSerializer,
    ReloadAcceptedSerializer,
    WorkflowExecuteSerializer,
    WorkflowSerializer,
)
from workflows.models import DataProvider, Workflow

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
        summary="Run a workflow",
        description=(
            "Validates and coerces `parameters`, then queues the run. Sync workflows answer 200 with the result "
            "(or 202 if the result is not ready within the web timeout); async ones answer 202 at once."
        ),
        request=WorkflowExecuteSerializer,
        responses={
            **RUN_RESPONSES,
            400: error("Invalid parameters (each bad field named)"),
            404: error("Unknown workflow"),
            409: error("Workflow unavailable (import error or vanished file)"),
            429: error("Too many runs started by this user; Retry-After says when to try again"),
            503: error("Task queue unreachable; the execution is marked Failed"),
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def execute(self, request, name=None):
        serializer = WorkflowExecuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        started = execution_services.execution_start(
            workflow_name=name,
            parameters=serializer.validated_data.get("parameters") or {},
            trigger=Trigger.MANUAL,
            organization=request.scope.organization,
            user=request.user,
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
