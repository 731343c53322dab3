from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from bifrost_site.api.docs import ERROR, errors
from bifrost_site.api.viewsets import BifrostAPIView, BifrostViewSet
from oauth_app import services
from oauth_app.api.serializers import (
    AuthorizeResponseSerializer,
    OAuthConnectionSerializer,
    OAuthConnectionWriteSerializer,
    RefreshJobSerializer,
)
from oauth_app.filtersets import OAuthConnectionFilterSet
from oauth_app.models import OAuthConnection
from oauth_app.selectors import last_refresh_run

REFRESH_TASK = "oauth_app.refresh_expiring_tokens"
REFRESH_INTERVAL_SECONDS = 15 * 60


@extend_schema_view(
    list=extend_schema(
        summary="List OAuth connections (org rows and GLOBAL rows in an org scope)",
        responses={200: OAuthConnectionSerializer(many=True), **errors()},
    ),
    retrieve=extend_schema(
        summary="An OAuth connection (the organization's, else GLOBAL)",
        responses={200: OAuthConnectionSerializer, 404: ERROR, **errors()},
    ),
    create=extend_schema(
        summary="Create an OAuth connection in the current scope (client credentials fetch a token now)",
        request=OAuthConnectionWriteSerializer,
        responses={201: OAuthConnectionSerializer, 400: ERROR, 409: ERROR, **errors()},
    ),
    update=extend_schema(
        summary="Change an OAuth connection",
        request=OAuthConnectionWriteSerializer,
        responses={200: OAuthConnectionSerializer, 400: ERROR, 404: ERROR, **errors()},
    ),
    partial_update=extend_schema(
        summary="Change some fields of an OAuth connection",
        request=OAuthConnectionWriteSerializer,
        responses={200: OAuthConnectionSerializer, 400: ERROR, 404: ERROR, **errors()},
    ),
    destroy=extend_schema(
        summary="Delete an OAuth connection and its token", responses={204: None, 404: ERROR, **errors()}
    ),
)
@extend_schema(tags=["oauth"])
class OAuthConnectionViewSet(BifrostViewSet):
    queryset = OAuthConnection.objects.select_related("token")
    serializer_class = OAuthConnectionSerializer
    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9_-]+"
    filterset_class = OAuthConnectionFilterSet
    ordering_fields = ["name", "status", "created_at", "updated_at", "last_refresh_at"]
    ordering = ["name"]

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return OAuthConnectionWriteSerializer
        return OAuthConnectionSerializer

    def _present(self, connection, status_code=status.HTTP_200_OK):
        connection = OAuthConnection.objects.select_related("token").get(pk=connection.pk)
        return Response(OAuthConnectionSerializer(connection).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = OAuthConnectionWriteSerializer(
            data=request.data, context={"organization_id": self.scope.organization_id}
        )
        serializer.is_valid(raise_exception=True)
        connection = services.connection_create(
            organization=self.scope_organization, created_by=request.user, **serializer.validated_data
        )
        return self._present(connection, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        connection = self.get_object()
        serializer = OAuthConnectionWriteSerializer(
            connection,
            data=request.data,
            partial=partial,
            context={"organization_id": connection.organization_id},
        )
        serializer.is_valid(raise_exception=True)
        connection = services.connection_update(connection=connection, **serializer.validated_data)
        return self._present(connection)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.connection_delete(connection=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Start the authorization-code flow: returns the provider URL (state + PKCE S256)",
        request=None,
        responses={200: AuthorizeResponseSerializer, 400: ERROR, 404: ERROR, **errors()},
    )
    @action(detail=True, methods=["post"])
    def authorize(self, request, *args, **kwargs):
        connection = self.get_object()
        redirect_uri = request.build_absolute_uri(reverse("oauth-callback"))
        url = services.connection_authorize(connection=connection, requested_by=request.user, redirect_uri=redirect_uri)
        expires_at = connection.states.order_by("-created_at").values_list("expires_at", flat=True).first()
        return Response(AuthorizeResponseSerializer({"authorization_url": url, "expires_at": expires_at}).data)

    @extend_schema(
        summary="Get a new token now (refresh token or client credentials); 502 with the provider's error",
        request=None,
        responses={200: OAuthConnectionSerializer, 400: ERROR, 404: ERROR, 502: ERROR, **errors()},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        connection = services.connection_refresh(connection=self.get_object())
        return self._present(connection)


class RefreshJobView(BifrostAPIView):
    @extend_schema(
        tags=["oauth"],
        summary="The token refresh task and its last run's counts",
        responses={200: RefreshJobSerializer, **errors()},
    )
    def get(self, request):
        run = last_refresh_run()
        return Response(
            RefreshJobSerializer(
                {
                    "task": REFRESH_TASK,
                    "interval_seconds": REFRESH_INTERVAL_SECONDS,
                    "window_minutes": int(services.REFRESH_WINDOW.total_seconds() // 60),
                    "last_run": run,
                }
            ).data
        )
