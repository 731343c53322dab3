"""Schedules, workspace (git, packages, jobs), workflow keys and the webhook endpoint."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

import audit
from bifrost_site.api.docs import ERROR
from bifrost_site.api.errors import ConflictError
from bifrost_site.api.throttling import ResilientScopedRateThrottle, RunRateThrottle
from bifrost_site.api.viewsets import BifrostAPIView, BifrostGenericViewSet
from executions.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from executions.idempotency import idempotency_from_request
from executions.presenters import RUN_RESPONSES, started_run_response
from workflows import selectors
from workflows.api import serializers as s
from workflows.filtersets import ScheduleFilterSet, WorkflowKeyFilterSet
from workflows.models import Schedule, Workflow
from workflows.services import git_sync, keys, packages, schedules

EXECUTION_RESPONSES = RUN_RESPONSES
ENDPOINT_ERRORS = dict.fromkeys((400, 401, 404, 405, 409, 422, 429), ERROR)


class PlatformResourceMixin:
    """Schedules, workspace state and workflow keys belong to the platform, not to an organization:
    the scope does not narrow them (admins only, by the default permission)."""

    def scoped_queryset(self, queryset):
        return queryset


class TriggerThrottleMixin:
    """`trigger` starts a run: throttled per user like execute (`RUN_RATE_PER_USER`). Set here because
    `@action(throttle_classes=…)` is not applied to hand-routed views."""

    def get_throttles(self):
        if self.action == "trigger":
            return [RunRateThrottle()]
        return super().get_throttles()


@extend_schema(tags=["schedules"])
class ScheduleViewSet(TriggerThrottleMixin, BifrostGenericViewSet):
    """`/api/schedules`: schedules as rows (DESIGN §15). A GLOBAL admin sees every schedule (filter
    `organization`); an organization scope sees its own. Creates land in the current scope."""

    queryset = Schedule.objects.select_related("workflow")
    serializer_class = s.ScheduleRowSerializer
    filterset_class = ScheduleFilterSet
    ordering_fields = ["created_at", "next_run_at"]
    ordering = ["created_at", "id"]


    @extend_schema(summary="List schedules", responses={200: s.ScheduleRowSerializer(many=True)})
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.ScheduleRowSerializer(page, many=True).data)

    @extend_schema(
        summary="Add a schedule (workflow, cron; parameters are validated against the workflow's)",
        request=s.ScheduleWriteSerializer,
        responses={201: s.ScheduleRowSerializer, 400: ERROR, 404: ERROR},
    )
    def create(self, request):
        serializer = s.ScheduleWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        missing = [name for name in ("workflow", "cron") if name not in data]
        if missing:
            raise exceptions.ValidationError(dict.fromkeys(missing, ["This field is required."]))
        organization = self.scope_organization
        organization_id = data.pop("organization_id", None)
        if organization_id is not None:
            from orgs.models import Organization

            if organization is not None and organization.id != organization_id:
                raise exceptions.ValidationError({"organization_id": ["Use your scope's organization."]})
            organization = Organization.objects.for_scope(self.scope).filter(id=organization_id).first()
            if organization is None:
                raise exceptions.ValidationError({"organization_id": ["No such organization."]})
        row = schedules.schedule_create(
            workflow_name=data.pop("workflow"), organization=organization, values=data, user=request.user
        )
        return Response(s.ScheduleRowSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Get a schedule", responses={200: s.ScheduleRowSerializer, 404: ERROR})
    def retrieve(self, request, pk=None):
        return Response(s.ScheduleRowSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change a schedule (a workflow's default schedule: only enabled and timezone)",
        request=s.ScheduleWriteSerializer,
        responses={200: s.ScheduleRowSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def partial_update(self, request, pk=None):
        schedule = self.get_object()
        serializer = s.ScheduleWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        for fixed in ("workflow", "organization_id", "target"):
            if fixed in data:
                raise exceptions.ValidationError({fixed: ["Cannot be changed; add another schedule."]})
        row = schedules.schedule_row_update(schedule=schedule, values=data, user=request.user)
        return Response(s.ScheduleRowSerializer(row).data)

    @extend_schema(summary="Delete a schedule", responses={204: None, 404: ERROR, 409: ERROR})
    def destroy(self, request, pk=None):
        schedules.schedule_delete(schedule=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Run a schedule's workflow now with its parameters (trigger=manual, by you)",
        request=None,
        responses={**EXECUTION_RESPONSES, 400: ERROR, 404: ERROR, 409: ERROR, 429: ERROR, 503: ERROR},
    )
    def trigger(self, request, pk=None):
        started = schedules.schedule_row_trigger(
            schedule=self.get_object(), user=request.user, organization=self.scope_organization
        )
        return started_run_response(started, request=request)

    @extend_schema(
        summary="Check a cron expression: text, next 5 runs, short-interval warning",
        request=s.ScheduleValidateSerializer,
        responses={200: s.ScheduleValidationSerializer, 400: ERROR},
    )
    def validate(self, request):
        serializer = s.ScheduleValidateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        described = schedules.schedule_describe(
            expression=serializer.validated_data["expression"], timezone_name=serializer.validated_data["timezone"]
        )
        return Response(
            s.ScheduleValidationSerializer(
                {
                    "valid": True,
                    "expression": described.expression,
                    "timezone": described.timezone,
                    "human_readable": described.human_readable,
                    "next_runs": described.next_runs,
                    "interval_seconds": described.interval_seconds,
                    "warning": described.warning,
                }
            ).data
        )


@extend_schema(tags=["schedules"], deprecated=True)
class WorkflowScheduleViewSet(TriggerThrottleMixin, PlatformResourceMixin, BifrostGenericViewSet):
    """Deprecated: `/api/schedules/{workflow}` answers for the workflow's default schedule (DESIGN §15);
    use `/api/schedules/{id}`."""

    lookup_field = "name"
    lookup_url_kwarg = "workflow"
    lookup_value_regex = "[a-z0-9_]+"
    serializer_class = s.ScheduleSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.scheduled_workflows()


    def _one(self, name):
        workflow = selectors.scheduled_workflows().filter(name=name).first()
        if workflow is None:
            raise exceptions.NotFound(f"No scheduled workflow named {name!r}.")
        return selectors.schedule_views([workflow])[0]

    @extend_schema(
        operation_id="schedules_workflow_retrieve",
        summary="Deprecated: a workflow's default schedule",
        responses={200: s.ScheduleSerializer},
    )
    def retrieve(self, request, workflow=None):
        return Response(s.ScheduleSerializer(self._one(workflow)).data)

    @extend_schema(
        operation_id="schedules_workflow_partial_update",
        summary="Deprecated: pause/resume a workflow's default schedule or change its time zone",
        request=s.ScheduleUpdateSerializer,
        responses={200: s.ScheduleSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def partial_update(self, request, workflow=None):
        serializer = s.ScheduleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not data:
            raise exceptions.ValidationError({"non_field_errors": ["Send `enabled` and/or `timezone`."]})
        schedules.schedule_update(
            workflow_name=workflow, enabled=data.get("enabled"), timezone_name=data.get("timezone")
        )
        return Response(s.ScheduleSerializer(self._one(workflow)).data)

    @extend_schema(
        operation_id="schedules_workflow_destroy",
        summary="Deprecated: a workflow's default schedule cannot be deleted (pause it instead)",
        responses={404: ERROR, 409: ERROR},
    )
    def destroy(self, request, workflow=None):
        self._one(workflow)
        raise ConflictError("A workflow's default schedule comes from @workflow(schedule=...); pause it instead.")

    @extend_schema(
        operation_id="schedules_workflow_trigger",
        summary="Deprecated: run a scheduled workflow now (trigger=manual, by you)",
        request=s.ScheduleTriggerSerializer,
        responses={**EXECUTION_RESPONSES, 400: ERROR, 404: ERROR, 409: ERROR, 429: ERROR, 503: ERROR},
    )
    def trigger(self, request, workflow=None):
        serializer = s.ScheduleTriggerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        started = schedules.schedule_trigger(
            workflow_name=workflow,
            user=request.user,
            organization=self.scope_organization,
            parameters=serializer.validated_data["parameters"],
        )
        return started_run_response(started, request=request)


@extend_schema(tags=["workspace"])
class GitSettingsView(BifrostAPIView):
    @extend_schema(summary="The repository the workspace follows", responses={200: s.GitSettingsSerializer})
    def get(self, request):
        return Response(s.GitSettingsSerializer(git_sync.git_settings_get()).data)

    @extend_schema(
        summary="Set the repository, branch, credential secret and sync interval",
        request=s.GitSettingsSerializer,
        responses={200: s.GitSettingsSerializer, 400: ERROR},
    )
    def put(self, request):
        serializer = s.GitSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = git_sync.git_settings_update(**serializer.validated_data, updated_by=request.user)
        return Response(s.GitSettingsSerializer(row).data)


@extend_schema(tags=["workspace"])
class GitSyncView(BifrostAPIView):
    @extend_schema(
        summary="Pull the repository into the workspace, then run discovery (a workspace job)",
        request=None,
        responses={202: s.JobAcceptedSerializer, 400: ERROR, 503: ERROR},
    )
    def post(self, request):
        job = git_sync.git_sync_request(requested_by=request.user)
        return Response({"job_id": job.id, "status": job.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["workspace"])
class WorkspaceJobView(BifrostAPIView):
    @extend_schema(summary="A workspace job with its output", responses={200: s.WorkspaceJobSerializer, 404: ERROR})
    def get(self, request, job_id):
        job = selectors.workspace_job_get(job_id)
        if job is None:
            raise exceptions.NotFound("Workspace job not found.")
        return Response(s.WorkspaceJobSerializer(job).data)


@extend_schema(tags=["workspace"])
class PackagesView(BifrostAPIView):
    @extend_schema(summary="Packages installed for workflow code", responses={200: s.PackageListSerializer})
    def get(self, request):
        installed = packages.packages_list()
        return Response({"path": str(packages.packages_path()), "count": len(installed), "results": installed})


@extend_schema(tags=["workspace"])
class PackageInstallView(BifrostAPIView):
    @extend_schema(
        summary="Install a package (or the workspace requirements.txt), then run discovery",
        request=s.PackageInstallSerializer,
        responses={202: s.JobAcceptedSerializer, 400: ERROR, 503: ERROR},
    )
    def post(self, request):
        serializer = s.PackageInstallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = packages.package_install_request(**serializer.validated_data, requested_by=request.user)
        return Response({"job_id": job.id, "status": job.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["webhooks"])
class WorkflowKeyViewSet(
    PlatformResourceMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    BifrostGenericViewSet,
):
    serializer_class = s.WorkflowKeySerializer
    filterset_class = WorkflowKeyFilterSet
    ordering_fields = ["created_at", "last_used_at", "expires_at"]

    def get_queryset(self):
        return selectors.workflow_keys()

    @extend_schema(
        summary="Create a key (the raw key is in the answer, once)",
        request=s.WorkflowKeyCreateSerializer,
        responses={201: s.WorkflowKeyCreatedSerializer, 400: ERROR},
    )
    def create(self, request):
        serializer = s.WorkflowKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = keys.workflow_key_create(
            workflow_name=data.get("workflow") or None,
            description=data.get("description", ""),
            expires_at=data.get("expires_at"),
            created_by=request.user,
        )
        created.key.key = created.raw_key
        return Response(s.WorkflowKeyCreatedSerializer(created.key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a key", responses={204: None, 404: ERROR})
    def destroy(self, request, *args, **kwargs):
        keys.workflow_key_revoke(key=self.get_object(), revoked_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"])
class WorkflowEndpointView(APIView):
    """`/api/endpoints/{workflow}`: run an endpoint-enabled workflow with a workflow key (or anonymously
    when it is public). Input: query parameters merged with the JSON body (the body wins)."""

    authentication_classes: list = []  # key or public only: no session, no JWT, no development bypass
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ResilientScopedRateThrottle]
    throttle_scope = "webhook"

    def get_authenticate_header(self, request):
        return 'X-Bifrost-Key realm="endpoints"'

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "bifrost_allow", None):
            response["Allow"] = response.bifrost_allow  # the workflow's methods, not the view's
        return response

    def _input(self, request) -> dict:
        data = {}
        for name in request.query_params:
            values = request.query_params.getlist(name)
            data[name] = values[0] if len(values) == 1 else values
        body = request.data if request.method != "GET" else {}
        if body and not isinstance(body, dict):
            raise exceptions.ValidationError({"body": ["Send a JSON object."]})
        if hasattr(body, "dict"):
            body = body.dict()
        data.update(body or {})
        return data

    def _handle(self, request, workflow: str):
        target = Workflow.objects.filter(name=workflow, endpoint_enabled=True).first()
        key = None
        if target is not None and target.public_endpoint:
            executed_by_name = "public:anonymous"
        else:
            # Before anything about the name is told: without a valid key every name gets the same 401.
            key = keys.workflow_key_authenticate(request.headers.get("X-Bifrost-Key"), workflow)
            if target is None:
                raise exceptions.NotFound("No endpoint-enabled workflow by that name.")
            executed_by_name = f"api_key:{key.id}"
        allowed = [m.upper() for m in (target.allowed_methods or ["POST"])]
        if request.method not in allowed:
            response = Response(
                {
                    "error": "method_not_allowed",
                    "message": f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                    "details": {"allowed_methods": allowed},
                },
                status=status.HTTP_405_METHOD_NOT_ALLOWED,
            )
            response.bifrost_allow = ", ".join(allowed)
            return response
        parameters = self._input(request)
        idempotency = idempotency_from_request(
            request,
            target=f"endpoint:{target.name}:{request.method}",
            body=parameters,
            workflow_key_id=key.id if key is not None else None,
        )

        from executions.services import execution_start

        started = execution_start(
            workflow_name=target.name,
            parameters=parameters,
            trigger="endpoint",
            organization=None,
            user=None,
            executed_by_name=executed_by_name,
            idempotency=idempotency,
        )
        if started.replayed:
            return started_run_response(started, request=request)
        audit.record(
            action="workflow_endpoint.call",
            resource_type="workflow",
            resource_id=target.name,
            actor_name=executed_by_name,
            changes={"after": {"execution_id": str(started.execution.id), "method": request.method}},
        )
        return started_run_response(started, request=request)

    @extend_schema(
        summary="Run the workflow (GET: query parameters only)",
        parameters=[OpenApiParameter("X-Bifrost-Key", str, OpenApiParameter.HEADER, required=False), IDEMPOTENCY_KEY],
        request=None,
        responses={**EXECUTION_RESPONSES, **ENDPOINT_ERRORS},
        auth=[],
    )
    def get(self, request, workflow):
        return self._handle(request, workflow)

    @extend_schema(
        summary="Run the workflow with a JSON body",
        parameters=[OpenApiParameter("X-Bifrost-Key", str, OpenApiParameter.HEADER, required=False), IDEMPOTENCY_KEY],
        request=OpenApiTypes.OBJECT,
        responses={**EXECUTION_RESPONSES, **ENDPOINT_ERRORS},
        auth=[],
    )
    def post(self, request, workflow):
        return self._handle(request, workflow)

    @extend_schema(
        summary="Run the workflow with a JSON body (PUT)",
        parameters=[OpenApiParameter("X-Bifrost-Key", str, OpenApiParameter.HEADER, required=False), IDEMPOTENCY_KEY],
        request=OpenApiTypes.OBJECT,
        responses={**EXECUTION_RESPONSES, **ENDPOINT_ERRORS},
        auth=[],
    )
    def put(self, request, workflow):
        return self._handle(request, workflow)

    @extend_schema(
        summary="Run the workflow (DELETE)",
        parameters=[OpenApiParameter("X-Bifrost-Key", str, OpenApiParameter.HEADER, required=False), IDEMPOTENCY_KEY],
        request=OpenApiTypes.OBJECT,
        responses={**EXECUTION_RESPONSES, **ENDPOINT_ERRORS},
        auth=[],
    )
    def delete(self, request, workflow):
        return self._handle(request, workflow)
