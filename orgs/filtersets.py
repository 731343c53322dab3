import django_filters
from django.db.models import Q

from orgs.models import Config, ConfigType, Organization


class OrganizationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search name and domain")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Organization
        fields = ["is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(domain__icontains=value))


class ConfigFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search key and description")
    config_type = django_filters.ChoiceFilter(choices=ConfigType.choices)
    is_global = django_filters.BooleanFilter(field_name="organization", lookup_expr="isnull", label="Only GLOBAL rows")

    class Meta:
        model = Config
        fields = ["config_type"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(key__icontains=value) | Q(description__icontains=value))
