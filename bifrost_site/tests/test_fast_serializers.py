"""FastReadMixin answers exactly what DRF's own `Serializer.to_representation` answers.

Each comparison serializes the same object twice with the same serializer class: through the mixin, and
through DRF's `Serializer.to_representation` called directly (the path the mixin replaces).
"""

import datetime
import enum
import uuid
import zoneinfo
from types import SimpleNamespace

import pytest
from django.db import models
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from bifrost_site.api.serializers import FastReadMixin
from executions.api.serializers import ExecutionDetailSerializer, ExecutionListSerializer
from executions.api.views import LIST_COLUMNS
from executions.models import Execution, ExecutionStatus, ResultType, Trigger
from executions.tests.factories import ExecutionFactory
from workflows.api.registry_serializers import DataProviderSerializer, WorkflowSerializer
from workflows.models import DataProvider, ExecutionMode, Workflow
from workflows.tests.factories import DataProviderFactory, WorkflowFactory


def drf(serializer_class, instance, **kwargs):
    return serializers.Serializer.to_representation(serializer_class(**kwargs), instance)


def fast(serializer_class, instance, **kwargs):
    return serializer_class(instance, **kwargs).data


def outcome(function, *args, **kwargs):
    """The value, or the exception type and message: both paths must agree on failures too."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


class Colour(models.TextChoices):
    RED = "red", "Red"
    GREEN = "green", "Green"


class Plain(enum.Enum):
    ONE = "one"


class Everything(FastReadMixin, serializers.Serializer):
    text = serializers.CharField(allow_null=True)
    number = serializers.IntegerField(allow_null=True)
    flag = serializers.BooleanField(allow_null=True)
    ident = serializers.UUIDField(allow_null=True)
    ident_hex = serializers.UUIDField(format="hex", allow_null=True)
    colour = serializers.ChoiceField(choices=Colour.choices, allow_null=True)
    payload = serializers.JSONField(allow_null=True)
    anything = serializers.ReadOnlyField()
    when = serializers.DateTimeField(allow_null=True)
    when_formatted = serializers.DateTimeField(source="when", format="%Y-%m-%d %H:%M", allow_null=True)
    when_in_oslo = serializers.DateTimeField(
        source="when", default_timezone=zoneinfo.ZoneInfo("Europe/Oslo"), allow_null=True
    )
    nested_name = serializers.CharField(source="child.name", allow_null=True)
    computed = serializers.IntegerField(source="compute")
    missing = serializers.CharField(default="fallback")
    missing_optional = serializers.CharField(required=False)
    from_context = serializers.SerializerMethodField()

    def get_from_context(self, obj) -> str:
        return f"{self.context.get('who', '-')}:{obj.text!r}"


class WithRelation(FastReadMixin, serializers.Serializer):
    """A field type the mixin has no converter for: the whole class stays on DRF's path."""

    text = serializers.CharField()
    items = serializers.ListField(child=serializers.IntegerField())


ZONES = [
    datetime.UTC,
    zoneinfo.ZoneInfo("Europe/Oslo"),
    zoneinfo.ZoneInfo("America/St_Johns"),
    datetime.timezone(datetime.timedelta(hours=-11, minutes=-30)),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
datetimes = st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30))
aware = st.builds(lambda dt, tz: dt.replace(tzinfo=tz), datetimes, st.sampled_from(ZONES))


def value_of(*strategies):
    return st.one_of(st.none(), *strategies)


objects = st.builds(
    lambda **values: SimpleNamespace(compute=lambda: 7, child=SimpleNamespace(name=values.pop("child_name")), **values),
    text=value_of(st.text(), st.sampled_from(list(Colour)), st.integers()),
    number=value_of(st.integers(), st.booleans(), st.sampled_from(["12"])),
    flag=value_of(st.booleans(), st.sampled_from([0, 1, "true", "no", "x"])),
    ident=value_of(st.uuids(), st.sampled_from(["not-a-uuid-but-a-string"])),
    ident_hex=value_of(st.uuids()),
    colour=value_of(st.sampled_from(["red", "green", "blue", ""]), st.sampled_from(list(Colour)), st.just(Plain.ONE)),
    payload=json_values,
    anything=value_of(json_values, st.uuids()),
    when=value_of(aware, datetimes, st.sampled_from(["2024-01-01T00:00:00Z"])),
    child_name=value_of(st.text(max_size=5)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=objects, zone=st.sampled_from(["UTC", "Europe/Oslo", "America/St_Johns", "Asia/Kathmandu"]))
def test_every_supported_field_type_matches_drf(obj, zone):
    with timezone.override(zone):
        assert outcome(fast, Everything, obj, context={"who": "me"}) == outcome(
            drf, Everything, obj, context={"who": "me"}
        )


def test_the_comparison_sees_differences():
    """Guards the property test: `outcome` tells a value from a failure and from another value."""
    obj = SimpleNamespace(text="a", items=[1, "2"])
    assert fast(WithRelation, obj) == drf(WithRelation, obj) == {"text": "a", "items": [1, 2]}
    assert outcome(drf, Everything, SimpleNamespace())[0] == "raised"
    assert outcome(fast, Everything, SimpleNamespace()) == outcome(drf, Everything, SimpleNamespace())


def test_dict_rows_and_use_tz_off_take_drf_path():
    row = {"text": "a", "items": [3]}
    assert fast(WithRelation, row) == drf(WithRelation, row)
    naive = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456)
    obj = SimpleNamespace(text="x", number=1, flag=True, ident=None, ident_hex=None, colour="red", payload={})
    obj.__dict__.update(anything=1, when=naive, child=SimpleNamespace(name="c"), compute=lambda: 2)
    with override_settings(USE_TZ=False):
        assert fast(Everything, obj) == drf(Everything, obj)
        assert fast(Everything, obj)["when"] == "2024-05-01T12:00:00.123456"


# --- the real list serializers on real rows ---


@pytest.fixture
def varied_executions(org, member, admin_user):
    base = timezone.now().replace(microsecond=0)
    rows = [
        ExecutionFactory(organization=org, executed_by=member),
        ExecutionFactory(
            organization=None,
            executed_by=None,
            executed_by_name="schedule",
            trigger=Trigger.SCHEDULE,
            status=ExecutionStatus.PENDING,
            started_at=None,
            completed_at=None,
            duration_ms=None,
        ),
        ExecutionFactory(
            organization=org,
            executed_by=admin_user,
            status=ExecutionStatus.FAILED,
            result={"ünïcode": "✓", "n": [1, 2.5, None]},
            result_type=ResultType.JSON,
            error_type="KeyError",
            error_message="boom",
            started_at=base,
            completed_at=base + datetime.timedelta(microseconds=1),
            attempt=3,
        ),
    ]
    rows.append(ExecutionFactory(organization=org, executed_by=member, rerun_of=rows[0], trigger=Trigger.RERUN))
    return rows


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])
def test_execution_serializers_match_drf(varied_executions, zone):
    listed = list(Execution.objects.select_related("organization").only(*LIST_COLUMNS))
    detailed = list(Execution.objects.select_related("organization"))
    assert len(listed) == len(detailed) == 4
    with timezone.override(zone):
        assert ExecutionListSerializer(listed, many=True).data == [drf(ExecutionListSerializer, e) for e in listed]
        for scope in (None, SimpleNamespace(is_platform_admin=False)):
            context = {"scope": scope}
            assert ExecutionDetailSerializer(detailed, many=True, context=context).data == [
                drf(ExecutionDetailSerializer, e, context=context) for e in detailed
            ]


def test_unsaved_execution_with_enum_values_matches_drf(org):
    execution = Execution(
        workflow_name="w", organization=org, status=ExecutionStatus.RUNNING, trigger=Trigger.MANUAL, attempt=1
    )
    execution.created_at = timezone.now()
    assert fast(ExecutionListSerializer, execution) == drf(ExecutionListSerializer, execution)
    assert fast(ExecutionListSerializer, execution)["status"] == "Running"


@pytest.mark.django_db
def test_workflow_and_provider_serializers_match_drf():
    WorkflowFactory(
        tags=["a", "ü"],
        parameters=[{"name": "x", "type": "string", "default": None}],
        execution_mode=ExecutionMode.SYNC,
        retry_policy={"max_attempts": 3, "backoff": 1.5},
        schedule="*/5 * * * *",
        discovered_at=timezone.now(),
        import_error="Traceback\n…",
    )
    WorkflowFactory(execution_mode=None, retry_policy=None, discovered_at=None, allowed_methods=[])
    DataProviderFactory(discovered_at=timezone.now())
    DataProviderFactory()
    workflows, providers = list(Workflow.objects.all()), list(DataProvider.objects.all())
    assert WorkflowSerializer(workflows, many=True).data == [drf(WorkflowSerializer, w) for w in workflows]
    assert DataProviderSerializer(providers, many=True).data == [drf(DataProviderSerializer, p) for p in providers]


def test_the_list_serializers_use_the_fast_path():
    """If a field type change sent a class back to DRF's path, the speed-up would vanish silently."""
    from bifrost_site.api import serializers as fast_module

    for serializer_class in (Everything, ExecutionListSerializer, ExecutionDetailSerializer, WorkflowSerializer):
        assert fast_module._build_plan(serializer_class) is not None, serializer_class
    assert fast_module._build_plan(WithRelation) is None


def test_a_fresh_serializer_reads_the_current_time_zone():
    when = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.UTC)
    obj = SimpleNamespace(id=uuid.uuid4(), when=when)

    class Small(FastReadMixin, serializers.Serializer):
        when = serializers.DateTimeField()

    with timezone.override("Europe/Oslo"):
        assert Small(obj).data == {"when": "2024-01-01T13:00:00+01:00"}
    assert Small(obj).data == {"when": "2024-01-01T12:00:00Z"}


def test_a_serializer_that_needs_arguments_keeps_drf_path():
    class NeedsArguments(FastReadMixin, serializers.Serializer):
        text = serializers.CharField()

        def __init__(self, *args, kind, **kwargs):
            super().__init__(*args, **kwargs)
            self.kind = kind

    obj = SimpleNamespace(text="a")
    assert NeedsArguments(obj, kind="x").data == {"text": "a"}
    from bifrost_site.api import serializers as fast_module

    assert fast_module._PLANS[NeedsArguments] is None
