"""Form API. Every endpoint finds its form through `selectors.forms_visible_to` (the one rule)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.authentication import DEV_BYPASS
from bifrost_site.api.docs import ERROR, errors
from bifrost_site.api.throttling import ResilientScopedRateThrottle, RunRateThrottle
from bifrost_site.api.viewsets import BifrostViewSet
from executions.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from executions.idempotency import idempotency_from_request
from executions.presenters import RUN_RESPONSES, started_run_response
from forms_app import selectors, services
from forms_app.api import serializers as s
from forms_app.filtersets import FormFilterSet
from forms_app.models import Form

ERRORS = errors(400, 404)
RUN_ERRORS = errors(400, 404, 409, 429, 503)  # 403: an ORG user naming another organization in the header
USE_ACTIONS = frozenset({"retrieve", "startup", "submit", "data_provider", "upload"})
RUN_ACTIONS = frozenset({"startup", "submit"})  # also throttled per signed-in user (RUN_RATE_PER_USER)


class FormPermission(BasePermission):
    """Using a form (detail, startup, submit, data providers, uploads) is decided per form by
    `forms_visible_to` (anonymous callers may use public forms); listing needs a signed-in
    user; everything else is for platform admins."""

    message = "This endpoint is for platform administrators."

    def has_permission(self, request, view) -> bool:
        if view.action in USE_ACTIONS:
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.action == "list":
            return True
        return bool(getattr(user, "is_platform_admin", False))


class PublicFormThrottle(ResilientScopedRateThrottle):
    """The `public` rate applies to callers who use a form anonymously (or through the dev bypass,
    which public paths ignore), keyed by client address."""

    scope = "public"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated and request.auth != DEV_BYPASS:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


@extend_schema_view(
    list=extend_schema(
        summary="Forms in scope (admins: all; users: the forms they may use)",
        responses={200: s.FormSerializer(many=True), 401: ERROR},
    ),
    create=extend_schema(
        summary="Create a form in the current scope",
        request=s.FormWriteSerializer,
        responses={201: s.FormSerializer, **ERRORS},
    ),
    update=extend_schema(request=s.FormWriteSerializer, responses={200: s.FormSerializer, **ERRORS}),
    partial_update=extend_schema(request=s.FormWriteSerializer, responses={200: s.FormSerializer, **ERRORS}),
    destroy=extend_schema(responses={204: None, **ERRORS}),
)
class FormViewSet(BifrostViewSet):
    queryset = Form.objects.all()
    serializer_class = s.FormSerializer
    permission_classes = [FormPermission]
    throttle_scope = "public"  # read by PublicFormThrottle on the actions that use a form
    filterset_class = FormFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def get_throttles(self):
        if self.action in RUN_ACTIONS:
            return [PublicFormThrottle(), RunRateThrottle()]
        if self.action in USE_ACTIONS:
            return [PublicFormThrottle()]
        return super().get_throttles()

    def scoped_queryset(self, queryset):
        return selectors.form_list(self.scope)

    def get_serializer_class(self):
        if self.action == "list" and not (self.scope and self.scope.is_platform_admin):
            return s.FormUserSerializer
        return super().get_serializer_class()

    # --- the form a caller may use ------------------------------------------------------------

    def resolve_actor(self) -> services.FormActor:
        """The form in `pk` as the caller may use it. The dev bypass never applies to public
        forms: such a caller uses them anonymously."""
        form_id = self.kwargs["pk"]
        request = self.request
        scope = getattr(request, "scope", None)
        bypass = request.auth == DEV_BYPASS

        def find(in_scope):
            try:
                return selectors.forms_visible_to(in_scope).select_related("organization").filter(id=form_id).first()
            except Exception as exc:  # a malformed id is simply not found
                from django.core.exceptions import ValidationError

                if isinstance(exc, ValidationError | ValueError):
                    return None
                raise

        if scope is not None and not bypass:
            form = find(scope)
            if form is not None:
                return services.FormActor(scope=scope, form=form)
        form = find(None)
        if form is not None:
            return services.FormActor(scope=None, form=form)
        if scope is not None and bypass:
            form = find(scope)
            if form is not None:
                return services.FormActor(scope=scope, form=form)
        if scope is None:
            raise exceptions.NotAuthenticated()
        raise exceptions.NotFound("Form not found.")

    # --- CRUD ---------------------------------------------------------------------------------

    def _present(self, form, *, status_code=status.HTTP_200_OK):
        form = selectors.form_detail(form_id=form.id)
        return Response(s.FormSerializer(form).data, status=status_code)

    @extend_schema(
        summary="One form (admins: full; users and the public: what the form page needs)",
        responses={200: s.FormSerializer, 401: ERROR, 404: ERROR, 429: ERROR},
    )
    def retrieve(self, request, *args, **kwargs):
        actor = self.resolve_actor()
        if actor.is_admin:
            return self._present(actor.form)
        return Response(s.FormUserSerializer(actor.form).data)

    def create(self, request, *args, **kwargs):
        serializer = s.FormWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = services.form_create(scope=self.scope, data=serializer.validated_data, user=request.user)
        return self._present(form, status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        form = self.get_object()
        serializer = s.FormWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        form = services.form_update(form=form, data=serializer.validated_data)
        return self._present(form)

    def destroy(self, request, *args, **kwargs):
        services.form_delete(form=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- roles, export, import ----------------------------------------------------------------

    def _roles_response(self, form):
        roles = list(selectors.form_roles(form))
        return Response(
            {"role_ids": [str(r.role_id) for r in roles], "roles": s.FormRoleSerializer(roles, many=True).data}
        )

    @extend_schema(
        summary="Roles that grant access to a role-based form", responses={200: s.FormRolesSerializer, **ERRORS}
    )
    @action(detail=True, methods=["get"], url_path="roles")
    def roles(self, request, pk=None):
        return self._roles_response(self.get_object())

    @extend_schema(
        summary="Replace the form's roles",
        request=s.FormRolesWriteSerializer,
        responses={200: s.FormRolesSerializer, **ERRORS},
    )
    @roles.mapping.put
    def roles_put(self, request, pk=None):
        form = self.get_object()
        serializer = s.FormRolesWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.form_roles_set(
            form=form, role_ids=serializer.validated_data["role_ids"], scope=self.scope, user=request.user
        )
        return self._roles_response(form)

    @extend_schema(summary="Export a form as JSON", responses={200: s.FormExportSerializer, **ERRORS})
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        form = self.get_object()
        return Response(services.form_export(form))

    @extend_schema(
        summary="Import an exported form into the current scope",
        request=s.FormExportSerializer,
        responses={201: s.FormImportResponseSerializer, 400: ERROR, 401: ERROR, 403: ERROR},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_form(self, request):
        form, skipped = services.form_import(scope=self.scope, data=request.data, user=request.user)
        presented = self._present(form).data
        return Response({"form": presented, "skipped_roles": skipped}, status=status.HTTP_201_CREATED)

    # --- using a form -------------------------------------------------------------------------

    @extend_schema(
        summary="Run the form's launch workflow; its result feeds `workflow` in visible_if",
        request=s.FormContextSerializer,
        responses={200: s.StartupResponseSerializer, **RUN_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="startup")
    def startup(self, request, pk=None):
        actor = self.resolve_actor()
        body = s.FormContextSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return Response(services.form_startup(actor=actor, values=data.get("form_data"), query=data.get("query")))

    @extend_schema(
        summary="Submit the form: validate and run its workflow (200 with the result when sync, 202 when async)",
        description=(
            "`run_at` defers the run (202, status `Scheduled`). A 429 is the per-user run rate (Retry-After) or "
            "the organization's monthly run quota (the message names it; show it to the user)."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=s.SubmitSerializer,
        responses={**RUN_RESPONSES, **RUN_ERRORS, **errors(422)},
    )
    @action(detail=True, methods=["post"], url_path="submit")
    def submit(self, request, pk=None):
        actor = self.resolve_actor()
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        idempotency = idempotency_from_request(
            request,
            target=f"form:{actor.form.id}",
            body={k: data.get(k) for k in ("form_data", "query", "workflow", "run_at")},
        )
        started = services.form_submit(
            actor=actor,
            form_data=data["form_data"],
            query=data.get("query"),
            workflow=data.get("workflow"),
            idempotency=idempotency,
            run_at=data.get("run_at"),
        )
        return started_run_response(started, request=request)

    @extend_schema(
        summary="Options of a data provider the form uses, with the field's inputs resolved on the server",
        request=s.DataProviderRequestSerializer,
        responses={200: s.DataProviderResponseSerializer, **RUN_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path=r"data-providers/(?P<provider>[A-Za-z0-9_]+)")
    def data_provider(self, request, pk=None, provider=None):
        actor = self.resolve_actor()
        body = s.DataProviderRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return Response(
            services.form_data_provider_options(
                actor=actor,
                provider=provider,
                field_name=data.get("field"),
                form_data=data.get("form_data"),
                query=data.get("query"),
                workflow=data.get("workflow"),
            )
        )

    @extend_schema(
        summary="Upload a file for one of the form's file fields; submit its id as the field's value",
        request={"multipart/form-data": s.UploadRequestSerializer},
        responses={201: s.UploadResponseSerializer, 400: ERROR, 401: ERROR, 404: ERROR, 413: ERROR, 429: ERROR},
    )
    @action(detail=True, methods=["post"], url_path="uploads", parser_classes=[MultiPartParser, FormParser, JSONParser])
    def upload(self, request, pk=None):
        actor = self.resolve_actor()
        body = s.UploadRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = services.form_upload_create(
            actor=actor, field_name=body.validated_data["field"], file=body.validated_data["file"]
        )
        return Response(
            {
                "id": str(upload.id),
                "field": upload.field_name,
                "name": upload.original_name,
                "content_type": upload.content_type,
                "size": upload.size,
            },
            status=status.HTTP_201_CREATED,
        )
