import django_filters

from notifications.models import DeliveryStatus, NotificationDelivery


class NotificationDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    event = django_filters.CharFilter(field_name="event")
    channel = django_filters.UUIDFilter(field_name="channel_id")
    execution = django_filters.UUIDFilter(field_name="execution_id")
    organization = django_filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = NotificationDelivery
        fields = ["status", "event", "channel", "execution", "organization"]
