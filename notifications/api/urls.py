from rest_framework.routers import SimpleRouter

from notifications.api.views import (
    NotificationChannelViewSet,
    NotificationDeliveryViewSet,
    NotificationRuleViewSet,
)

app_name = "notifications-api"

router = SimpleRouter(trailing_slash=False)
router.register("notifications/channels", NotificationChannelViewSet, basename="notification-channel")
router.register("notifications/rules", NotificationRuleViewSet, basename="notification-rule")
router.register("notifications/deliveries", NotificationDeliveryViewSet, basename="notification-delivery")

urlpatterns = router.urls
