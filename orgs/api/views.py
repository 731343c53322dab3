from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from bifrost_site.api.docs import ORG_SCOPE_PARAMETER, errors
from bifrost_site.api.viewsets import BifrostViewSet
from orgs import services
from orgs.api.serializers import (
    ConfigEffectiveSerializer,
    ConfigListSerializer,
    ConfigSerializer,
    OrganizationSerializer,
)
from orgs.filtersets import ConfigFilterSet, OrganizationFilterSet
from orgs.models import Config, Organization
from orgs.selectors import ConfigNotFound, config_effective

_CRUD_HTTP = ["get", "post", "put", "patch", "delete", "head", "options"]


@extend_schema_view(
    list=extend_schema(
        summary="List organizations",
        parameters=[ORG_SCOPE_PARAMETER],
        responses={200: OrganizationSerializer(many=True), **errors(400, 404)},
    ),
    create=extend_schema(
        summary="Create an organization", responses={201: OrganizationSerializer, **errors(400, 404, 409)}
    ),
    retrieve=extend_schema(summary="Get an organization", responses={200: OrganizationSerializer, **errors(400, 404)}),
    update=extend_schema(
        summary="Replace an organization", responses={200: OrganizationSerializer, **errors(400, 404, 409)}
    ),
    partial_update=extend_schema(
        summary="Change an organization", responses={200: OrganizationSerializer, **errors(400, 404, 409)}
    ),
    destroy=extend_schema(
        summary="Deactivate an organization (data is kept)", responses={204: None, **errors(400, 404)}
    ),
)
@extend_schema(tags=["organizations"])
class OrganizationViewSet(BifrostViewSet):
    """Customers of the MSP. DELETE deactivates; users of an inactive organization cannot sign in."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilterSet
    ordering_fields = ["name", "domain", "is_active", "created_at", "updated_at"]
    ordering = ["name", "id"]
    http_method_names = _CRUD_HTTP

    def perform_create(self, serializer):
        serializer.instance = services.organization_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.organization_update(
            organization=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.organization_deactivate(organization=instance)


@extend_schema_view(
    list=extend_schema(
        summary="List config entries in scope (org rows and GLOBAL rows)",
        responses={200: ConfigListSerializer(many=True), **errors(400, 404)},
    ),
    create=extend_schema(
        summary="Create a config entry in the current scope", responses={201: ConfigSerializer, **errors(400, 404, 409)}
    ),
    retrieve=extend_schema(
        summary="Get a config entry by key (organization row, else GLOBAL)",
        responses={200: ConfigSerializer, **errors(400, 404)},
    ),
    update=extend_schema(summary="Replace a config entry", responses={200: ConfigSerializer, **errors(400, 404)}),
    partial_update=extend_schema(
        summary="Change a config entry", responses={200: ConfigSerializer, **errors(400, 404)}
    ),
    destroy=extend_schema(summary="Delete a config entry", responses={204: None, **errors(400, 404)}),
)
@extend_schema(tags=["config"], parameters=[ORG_SCOPE_PARAMETER])
class ConfigViewSet(BifrostViewSet):
    """Typed settings. In an organization scope the organization's rows and the GLOBAL rows are
    listed; a key lookup returns the organization's row, else the GLOBAL one."""

    queryset = Config.objects.select_related("organization")
    serializer_class = ConfigSerializer
    filterset_class = ConfigFilterSet
    lookup_field = "key"
    lookup_value_regex = r"[A-Za-z0-9_]+"
    ordering_fields = ["key", "config_type", "created_at", "updated_at"]
    ordering = ["key", "organization_id"]
    http_method_names = _CRUD_HTTP

    def get_serializer_class(self):
        if self.action == "list":
            return ConfigListSerializer
        return ConfigSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.config_create(
            key=data["key"],
            value=data.get("value"),
            config_type=data.get("config_type", "string"),
            description=data.get("description", ""),
            organization=self.scope_organization,
            user=self.request.user,
        )

    def perform_update(self, serializer):
        serializer.instance = services.config_update(
            entry=serializer.instance, data=serializer.validated_data, user=self.request.user
        )

    def perform_destroy(self, instance):
        services.config_delete(entry=instance)

    @extend_schema(
        summary="The value that applies in the current scope, parsed to its type, and where it comes from",
        responses={200: ConfigEffectiveSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], url_path="effective", filter_backends=[], pagination_class=None)
    def effective(self, request, key=None):
        try:
            effective = config_effective(organization_id=self.scope.organization_id, key=key)
        except ConfigNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(
            ConfigEffectiveSerializer(
                {
                    "key": effective.key,
                    "value": effective.value,
                    "config_type": effective.config_type,
                    "source": effective.source,
                    "organization_id": effective.entry.organization_id,
                }
            ).data
        )
