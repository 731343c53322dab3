from django_filters import rest_framework as filters

from oauth_app.models import OAuthConnection


class OAuthConnectionFilterSet(filters.FilterSet):
    class Meta:
        model = OAuthConnection
        fields = ["name", "status", "flow_type"]
