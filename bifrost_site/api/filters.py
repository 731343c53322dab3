"""Filter fields shared by the apps' filtersets."""

import weakref
from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC before it reaches the database.

    PostgreSQL refuses UTC offsets beyond ±15:59 ("time zone displacement out of range"), and a
    date-time near year 1 or 9999 may not survive the conversion: both are a 400, never a 500.
    """

    default_error_messages = {"out_of_range": "Enter a date-time between years 1 and 9999 with a UTC offset."}

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range") from None


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


# `filter()` implementations that return the queryset unchanged for an empty value (None, "", []),
# which is what every filter of a FilterSet gets when the request sends none of its parameters.
_NOOP_WHEN_EMPTY = frozenset(
    {
        django_filters.Filter.filter,
        django_filters.MultipleChoiceFilter.filter,
        django_filters.RangeFilter.filter,
        django_filters.DateRangeFilter.filter,
        django_filters.LookupChoiceFilter.filter,
        django_filters.OrderingFilter.filter,
    }
)
_SKIPPABLE: "weakref.WeakKeyDictionary[type, frozenset[str] | None]" = weakref.WeakKeyDictionary()


def _parameter_names(filterset_class) -> frozenset[str] | None:
    """The filter names of a FilterSet whose filters all do nothing without their parameter, else None."""
    base = django_filters.FilterSet
    if (
        filterset_class.filter_queryset is not base.filter_queryset
        or filterset_class.get_form_class is not base.get_form_class
        or filterset_class.qs is not base.qs
        or filterset_class.form is not base.form
        or filterset_class._meta.form is not forms.Form
    ):
        return None
    for filter_ in filterset_class.base_filters.values():
        if filter_.extra.get("required"):
            return None
        if filter_.method is not None:
            continue  # FilterMethod returns the queryset for an empty value
        implementation = type(filter_).filter
        if implementation is django_filters.ChoiceFilter.filter:
            if filter_.null_value in EMPTY_VALUES:
                return None
        elif implementation not in _NOOP_WHEN_EMPTY:
            return None
    return frozenset(filterset_class.base_filters)


class BifrostFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that skips building the FilterSet when the request sends none of its parameters.

    Building it deep-copies every filter, creates a form class and validates the form: about 1 ms per
    request, for a queryset that comes back unchanged. Skipped only for FilterSets made of django-filter's
    own filters (none required, no custom `filter_queryset`/form), for which that is certain. A parameter
    named `<filter>` or `<filter>_<suffix>` (range widgets) counts as sent.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        try:
            names = _SKIPPABLE[filterset_class]
        except KeyError:
            names = _SKIPPABLE[filterset_class] = _parameter_names(filterset_class)
        if names is not None and not any(_names_filter(key, names) for key in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _names_filter(key: str, names: frozenset[str]) -> bool:
    return key in names or any(key.startswith(name + "_") for name in names)
