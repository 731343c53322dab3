from django_filters import rest_framework as filters

from forms_app.models import Form


class FormFilterSet(filters.FilterSet):
    class Meta:
        model = Form
        fields = ["access_level", "is_active", "workflow"]
