"""A faster read path for serializers of list endpoints, with output equal to DRF's.

DRF's `Serializer.to_representation` rebuilds the bound field set (`get_fields`, a deep copy of every
field) for each serializer instance, then for every row and field goes through `Field.get_attribute`
and `Field.to_representation`. A `DateTimeField` alone looks up the current time zone (an asgiref
`Local`, about 5 µs) for every value. For a 50-row page that is most of the request's time.

`FastReadMixin` builds, once per serializer class, a plan from the class's bound fields: for each
readable field its source attribute and a converter. Each converter returns exactly what the DRF field
returns, and hands any value of a type it does not expect to the DRF field itself. A field type with
no converter here (relations, nested serializers, custom fields) makes the class use DRF's path
unchanged. `bifrost_site/tests/test_fast_serializers.py` compares both paths.

Use it only on serializers whose fields do not depend on the instance's arguments or context (no
fields dropped or added in `__init__` or `get_fields`): the plan is shared by every instance.
`SerializerMethodField` methods are called on the serializer instance itself, so they may read
`self.context`.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework.settings import api_settings

_MISSING = object()
_NO_TZ = object()  # settings.USE_TZ is off: datetimes go through DRF's own conversion

# Plan entries: (field_name, attribute or None for "use field.get_attribute", converter, field).
# Converter kinds: a function of the value; _METHOD (call the serializer's method with the instance);
# _DATETIME (ISO 8601 in the current time zone, as DRF writes it).
_METHOD = "method"
_DATETIME = "datetime"
_PLANS: dict[type, list | None] = {}
_CONTEXT_FREE = (
    drf_fields.DateTimeField,
    drf_fields.DateField,
    drf_fields.TimeField,
    drf_fields.DurationField,
    drf_fields.FloatField,
    drf_fields.DecimalField,
    drf_fields.UUIDField,
)


def _identity(value):
    return value


def _typed(expected: type, field):
    slow = field.to_representation

    def convert(value):
        return value if type(value) is expected else slow(value)

    return convert


def _converter(field):
    """What stands in for `field.to_representation(value)` (value not None), or None if nothing does."""
    representation = type(field).to_representation
    if representation is drf_fields.CharField.to_representation:
        return _typed(str, field)
    if representation is drf_fields.IntegerField.to_representation:
        return _typed(int, field)
    if representation is drf_fields.BooleanField.to_representation:
        return _typed(bool, field)
    if representation is drf_fields.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        slow = field.to_representation
        return lambda value: str(value) if type(value) is uuid.UUID else slow(value)
    if representation is drf_fields.ChoiceField.to_representation:
        choices, slow = field.choice_strings_to_values, field.to_representation
        return lambda value: choices.get(value, value) if type(value) is str else slow(value)
    if representation is drf_fields.JSONField.to_representation and not field.binary:
        return _identity
    if representation is drf_fields.ReadOnlyField.to_representation:
        return _identity
    if representation is drf_fields.SerializerMethodField.to_representation:
        return _METHOD
    if representation is drf_fields.DateTimeField.to_representation and (
        type(field).enforce_timezone is drf_fields.DateTimeField.enforce_timezone
        and type(field).default_timezone is drf_fields.DateTimeField.default_timezone
        and not hasattr(field, "timezone")
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == drf_fields.ISO_8601
    ):
        return _DATETIME
    if any(representation is kind.to_representation for kind in _CONTEXT_FREE):
        return field.to_representation  # DRF's own conversion, which reads neither parent nor context
    return None


def _build_plan(serializer_class) -> list | None:
    try:
        fields = list(serializer_class()._readable_fields)
    except Exception:  # a serializer that needs arguments to build its fields keeps DRF's path
        return None
    plan = []
    for field in fields:
        convert = _converter(field)
        if convert is None:
            return None
        attribute = None
        if (
            convert is not _METHOD
            and len(field.source_attrs) == 1
            and type(field).get_attribute is drf_fields.Field.get_attribute
        ):
            attribute = field.source_attrs[0]
        plan.append((field.field_name, attribute, convert, field))
    return plan


# No docstring: drf-spectacular would show it as the description of every serializer using the mixin.
class FastReadMixin:  # put it before serializers.Serializer / ModelSerializer in the bases
    def to_representation(self, instance):
        cls = type(self)
        try:
            plan = _PLANS[cls]
        except KeyError:
            plan = _PLANS[cls] = _build_plan(cls)
        if plan is None or isinstance(instance, Mapping):
            return super().to_representation(instance)
        tz = self.__dict__.get("_fast_read_tz", _MISSING)
        if tz is _MISSING:  # once per serializer (a list's child serves every row)
            tz = self._fast_read_tz = timezone.get_current_timezone() if settings.USE_TZ else _NO_TZ
        ret = {}
        for name, attribute, convert, field in plan:
            if convert is _METHOD:
                ret[name] = getattr(self, field.method_name)(instance)
                continue
            value = _MISSING
            if attribute is not None:
                try:
                    value = getattr(instance, attribute)
                except Exception:  # DRF's own lookup below decides (default, None, skip or raise)
                    value = _MISSING
            if value is _MISSING or callable(value):
                try:
                    value = field.get_attribute(instance)
                except drf_fields.SkipField:
                    continue
            if value is None:
                ret[name] = None
            elif convert is _DATETIME:
                ret[name] = _datetime(value, tz, field)
            else:
                ret[name] = convert(value)
        return ret


def _datetime(value, tz, field):
    if type(value) is not datetime or tz is _NO_TZ or value.utcoffset() is None:
        return field.to_representation(value)
    try:
        text = value.astimezone(tz).isoformat()
    except OverflowError:
        return field.to_representation(value)  # DRF raises its own validation error
    return text[:-6] + "Z" if text.endswith("+00:00") else text
