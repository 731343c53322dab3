from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from bifrost_site.api.docs import ERROR, errors
from bifrost_site.api.viewsets import BifrostViewSet
from secrets_app import services
from secrets_app.api.serializers import SecretCreateSerializer, SecretSerializer, SecretUpdateSerializer
from secrets_app.filtersets import SecretFilterSet
from secrets_app.models import Secret


@extend_schema_view(
    list=extend_schema(
        summary="List secrets (names and metadata; org rows and GLOBAL rows in an org scope)",
        responses={200: SecretSerializer(many=True), **errors()},
    ),
    retrieve=extend_schema(
        summary="A secret's metadata (the organization's row, else GLOBAL)",
        responses={200: SecretSerializer, 404: ERROR, **errors()},
    ),
    create=extend_schema(
        summary="Create a secret in the current scope",
        request=SecretCreateSerializer,
        responses={201: SecretSerializer, 400: ERROR, 409: ERROR, **errors()},
    ),
    update=extend_schema(
        summary="Change a secret's value and/or description",
        request=SecretUpdateSerializer,
        responses={200: SecretSerializer, 400: ERROR, 404: ERROR, **errors()},
    ),
    partial_update=extend_schema(
        summary="Change a secret's value and/or description",
        request=SecretUpdateSerializer,
        responses={200: SecretSerializer, 400: ERROR, 404: ERROR, **errors()},
    ),
    destroy=extend_schema(
        summary="Delete a secret (409 naming the config keys and OAuth connections that still use it)",
        responses={204: None, 404: ERROR, 409: ERROR, **errors()},
    ),
)
@extend_schema(tags=["secrets"])
class SecretViewSet(BifrostViewSet):
    queryset = Secret.objects.all()
    serializer_class = SecretSerializer
    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9_-]+"
    filterset_class = SecretFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def get_serializer_class(self):
        if self.action == "create":
            return SecretCreateSerializer
        if self.action in ("update", "partial_update"):
            return SecretUpdateSerializer
        return SecretSerializer

    def create(self, request, *args, **kwargs):
        serializer = SecretCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        secret = services.secret_create(
            organization=self.scope_organization, created_by=request.user, **serializer.validated_data
        )
        return Response(SecretSerializer(secret).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        secret = self.get_object()
        serializer = SecretUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        secret = services.secret_update(secret=secret, **serializer.validated_data)
        return Response(SecretSerializer(secret).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.secret_delete(secret=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
