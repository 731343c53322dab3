import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.models import Role, UserType

User = get_user_model()


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search email and name")
    organization = django_filters.UUIDFilter(field_name="organization_id")
    user_type = django_filters.ChoiceFilter(choices=UserType.choices)
    is_active = django_filters.BooleanFilter()
    is_platform_admin = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ["organization", "user_type", "is_active", "is_platform_admin"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(email__icontains=value) | Q(name__icontains=value))


class RoleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search name and description")
    is_active = django_filters.BooleanFilter()
    is_global = django_filters.BooleanFilter(field_name="organization", lookup_expr="isnull", label="Only GLOBAL rows")

    class Meta:
        model = Role
        fields = ["is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))
