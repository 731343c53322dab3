from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from bifrost_site.api.docs import errors
from bifrost_site.api.viewsets import BifrostReadOnlyViewSet, BifrostViewSet
from notifications import services
from notifications.api.serializers import (
    NotificationChannelSerializer,
    NotificationChannelUpdateSerializer,
    NotificationDeliverySerializer,
    NotificationRuleSerializer,
    NotificationRuleUpdateSerializer,
)
from notifications.filtersets import NotificationDeliveryFilterSet
from notifications.models import NotificationChannel, NotificationDelivery, NotificationRule


class ChannelTestResultSerializer(serializers.Serializer):
    delivery_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["sent", "failed"])
    error = serializers.CharField(allow_blank=True)


class _WriteThroughServices:
    """Create/update/delete go through the app's audited services; reads are the scoped queryset."""

    create_service = update_service = delete_service = None
    update_serializer_class = None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "scope": self.scope}

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return self.update_serializer_class
        return self.serializer_class

    def create(self, request, *args, **kwargs):
        serializer = self.serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        obj = self.create_service(organization=self.scope_organization, user=request.user, **self._values(serializer))
        return Response(self.serializer_class(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        obj = self.get_object()
        serializer = self.update_serializer_class(
            obj, data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        obj = self.update_service(obj, user=request.user, **self._values(serializer))
        return Response(self.serializer_class(obj).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        self.delete_service(self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _values(serializer) -> dict:
        return dict(serializer.validated_data)


@extend_schema_view(
    list=extend_schema(summary="Notification channels (an organization's and GLOBAL ones in an org scope)"),
    retrieve=extend_schema(summary="A channel (its URL is never returned)"),
    create=extend_schema(
        summary="Create a channel in the current scope",
        responses={201: NotificationChannelSerializer, **errors(400, 409)},
    ),
    update=extend_schema(summary="Change a channel (send `url` to replace it)"),
    partial_update=extend_schema(summary="Change a channel (send `url` to replace it)"),
    destroy=extend_schema(summary="Delete a channel (its deliveries go with it)", responses={204: None, **errors(404)}),
)
@extend_schema(tags=["notifications"])
class NotificationChannelViewSet(_WriteThroughServices, BifrostViewSet):
    queryset = NotificationChannel.objects.select_related("organization")
    serializer_class = NotificationChannelSerializer
    update_serializer_class = NotificationChannelUpdateSerializer
    filterset_fields = ["name", "enabled"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def create_service(self, *, organization, user, **values):
        return services.channel_create(organization=organization, user=user, **values)

    def update_service(self, channel, *, user, **values):
        return services.channel_update(channel=channel, user=user, **values)

    def delete_service(self, channel, *, user):
        services.channel_delete(channel=channel, user=user)

    @extend_schema(
        summary="Send a test message now and report the outcome",
        request=None,
        responses={200: ChannelTestResultSerializer, **errors(404)},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def test(self, request, pk=None):
        delivery = services.channel_test(channel=self.get_object(), user=request.user)
        return Response({"delivery_id": delivery.id, "status": delivery.status, "error": delivery.last_error})


@extend_schema_view(
    list=extend_schema(summary="Notification rules (an organization's and GLOBAL ones in an org scope)"),
    retrieve=extend_schema(summary="A rule"),
    create=extend_schema(
        summary="Create a rule in the current scope", responses={201: NotificationRuleSerializer, **errors(400, 409)}
    ),
    update=extend_schema(summary="Change a rule"),
    partial_update=extend_schema(summary="Change a rule"),
    destroy=extend_schema(summary="Delete a rule", responses={204: None, **errors(404)}),
)
@extend_schema(tags=["notifications"])
class NotificationRuleViewSet(_WriteThroughServices, BifrostViewSet):
    queryset = NotificationRule.objects.select_related("organization").prefetch_related("channels")
    serializer_class = NotificationRuleSerializer
    update_serializer_class = NotificationRuleUpdateSerializer
    filterset_fields = ["name", "enabled"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def create_service(self, *, organization, user, **values):
        return services.rule_create(organization=organization, user=user, **values)

    def update_service(self, rule, *, user, **values):
        return services.rule_update(rule=rule, user=user, **values)

    def delete_service(self, rule, *, user):
        services.rule_delete(rule=rule, user=user)


@extend_schema_view(
    list=extend_schema(summary="Notification deliveries, newest first, with their attempts and last error"),
    retrieve=extend_schema(summary="One delivery"),
)
@extend_schema(tags=["notifications"])
class NotificationDeliveryViewSet(BifrostReadOnlyViewSet):
    queryset = NotificationDelivery.objects.all()
    serializer_class = NotificationDeliverySerializer
    filterset_class = NotificationDeliveryFilterSet
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
