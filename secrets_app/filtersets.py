from django_filters import rest_framework as filters

from secrets_app.models import Secret


class SecretFilterSet(filters.FilterSet):
    class Meta:
        model = Secret
        fields = ["name"]
