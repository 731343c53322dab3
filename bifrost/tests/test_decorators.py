"""@workflow, @param and @data_provider: validation, stacking and the specs they produce."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bifrost import (
    DataProviderError,
    DataProviderSpec,
    ParamSpec,
    WorkflowDefinitionError,
    WorkflowSpec,
    data_provider,
    normalize_options,
    param,
    registry,
    workflow,
)
from bifrost.decorators import validate_cron


def spec_of(func: Any) -> WorkflowSpec:
    return func.__bifrost_workflow__


def define(**kwargs: Any) -> WorkflowSpec:
    """Declare a parameterless workflow with the given @workflow arguments."""

    @workflow(**{"name": "wf_under_test", **kwargs})
    def fn(context):
        return None

    return spec_of(fn)


def test_defaults_and_name_from_function() -> None:
    @workflow()
    def my_flow(context):
        """Say hello.

        More details that are not part of the description.
        """

    spec = spec_of(my_flow)
    assert spec.name == "my_flow"
    assert spec.description == "Say hello."
    assert spec.category == "General"
    assert spec.tags == []
    assert spec.parameters == []
    assert spec.execution_mode is None
    assert spec.timeout_seconds == 1800
    assert spec.schedule == ""
    assert spec.schedule_timezone == "UTC"
    assert spec.endpoint_enabled is False
    assert spec.allowed_methods == ["POST"]
    assert spec.public_endpoint is False
    assert spec.retry_policy is None
    assert spec.func is my_flow
    assert spec.takes_context is True
    assert spec.is_async is False
    assert registry.workflows["my_flow"] is spec


def test_bare_decorator_and_async_and_no_context() -> None:
    @workflow
    async def bare(x=1):
        return x

    spec = spec_of(bare)
    assert spec.name == "bare"
    assert spec.is_async is True
    assert spec.takes_context is False


def test_decorator_returns_the_function_itself() -> None:
    def fn(context, a=1):
        return a

    assert workflow(name="same_fn")(fn) is fn
    assert fn(None) == 1


def test_context_only_counts_as_first_positional() -> None:
    @workflow(name="ctx_kw")
    def fn(*, context=None):
        return None

    assert spec_of(fn).takes_context is False


@pytest.mark.parametrize("name", ["Upper", "with-dash", "with space", "", "é", 5])
def test_invalid_names(name: Any) -> None:
    with pytest.raises(WorkflowDefinitionError, match="name must match"):
        define(name=name)


def test_invalid_function_name_as_default() -> None:
    with pytest.raises(WorkflowDefinitionError, match="CamelCase"):

        @workflow()
        def CamelCase(context):
            return None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"execution_mode": "later"}, "execution_mode"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 7201}, "timeout_seconds"),
        ({"timeout_seconds": 10.5}, "timeout_seconds"),
        ({"timeout_seconds": True}, "timeout_seconds"),
        ({"schedule": "* * * *"}, "schedule"),
        ({"schedule": "0 0 * * * *"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 0 L * *"}, "schedule"),
        ({"schedule": "0 0 * * 1#2"}, "schedule"),
        ({"schedule": "H * * * *"}, "schedule"),
        ({"schedule": "not a cron at all"}, "schedule"),
        ({"schedule_timezone": "Mars/Olympus"}, "schedule_timezone"),
        ({"schedule_timezone": "../etc/passwd"}, "schedule_timezone"),
        ({"schedule_timezone": ""}, "schedule_timezone"),
        ({"allowed_methods": ("PATCH",)}, "allowed_methods"),
        ({"allowed_methods": ()}, "allowed_methods"),
        ({"allowed_methods": "POST"}, "allowed_methods"),
        ({"endpoint_enabled": "yes"}, "endpoint_enabled"),
        ({"public_endpoint": True}, "public_endpoint"),
        ({"tags": "one"}, "tags"),
        ({"tags": ["ok", ""]}, "tags"),
        ({"tags": [1]}, "tags"),
        ({"category": ""}, "category"),
        ({"description": 3}, "description"),
        ({"retry_policy": 3}, "retry_policy"),
        ({"retry_policy": {"max_attempts": 0, "backoff_seconds": 1}}, "max_attempts"),
        ({"retry_policy": {"max_attempts": 11, "backoff_seconds": 1}}, "max_attempts"),
        ({"retry_policy": {"max_attempts": True, "backoff_seconds": 1}}, "max_attempts"),
        ({"retry_policy": {"backoff_seconds": 1}}, "max_attempts"),
        ({"retry_policy": {"max_attempts": 2}}, "backoff_seconds"),
        ({"retry_policy": {"max_attempts": 2, "backoff_seconds": -1}}, "backoff_seconds"),
        ({"retry_policy": {"max_attempts": 2, "backoff_seconds": float("nan")}}, "backoff_seconds"),
        ({"retry_policy": {"max_attempts": 2, "backoff_seconds": 1, "backoff_factor": 0.5}}, "backoff_factor"),
        ({"retry_policy": {"max_attempts": 2, "backoff_seconds": 1, "jitter": True}}, "unknown key"),
    ],
)
def test_invalid_workflow_arguments_name_workflow_and_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as excinfo:
        define(**kwargs)
    text = str(excinfo.value)
    assert "wf_under_test" in text
    assert message in text
    assert isinstance(excinfo.value, ValueError)


def test_valid_arguments_are_normalised() -> None:
    spec = define(
        description="  Does things  ",
        category=" Users ",
        tags=("a", "b", "a"),
        execution_mode="sync",
        timeout_seconds=7200,
        schedule="  */15   *  * * mon-fri ",
        schedule_timezone="Europe/Amsterdam",
        endpoint_enabled=True,
        allowed_methods=["get", "POST", "post"],
        public_endpoint=True,
        retry_policy={"max_attempts": 3, "backoff_seconds": 2.5},
    )
    assert spec.description == "Does things"
    assert spec.category == "Users"
    assert spec.tags == ["a", "b"]
    assert spec.schedule == "*/15 * * * mon-fri"
    assert spec.allowed_methods == ["GET", "POST"]
    assert spec.retry_policy == {"max_attempts": 3, "backoff_seconds": 2.5, "backoff_factor": 1}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("@daily", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("0 9 1-7 jan,jul sun", "0 9 1-7 jan,jul sun"),
        ("0,30 8-18/2 * * 1-5", "0,30 8-18/2 * * 1-5"),
    ],
)
def test_validate_cron_accepts(expression: str, expected: str) -> None:
    assert validate_cron(expression) == expected


@pytest.mark.parametrize("expression", ["0 0 * jan-xyz *", "0 0 * * mon#1", "0 0 ? * *", "0 0 15W * *", None])
def test_validate_cron_rejects(expression: Any) -> None:
    with pytest.raises(ValueError):
        validate_cron(expression)


def test_empty_or_none_schedule_means_unscheduled() -> None:
    assert define(schedule="").schedule == ""
    assert define(schedule=None).schedule == ""


def test_effective_mode() -> None:
    default = define()
    assert default.effective_mode("endpoint") == "sync"
    for trigger in ("manual", "form", "schedule", "rerun"):
        assert default.effective_mode(trigger) == "async"
    forced = define(execution_mode="sync")
    assert forced.effective_mode("schedule") == "sync"
    assert define(execution_mode="async").effective_mode("endpoint") == "async"
    with pytest.raises(ValueError, match="Unknown trigger"):
        default.effective_mode("webhook")


def test_to_dict_is_json_safe_and_mirrors_the_model() -> None:
    @workflow(name="dict_me", tags=["x"], schedule="0 * * * *", retry_policy={"max_attempts": 2, "backoff_seconds": 0})
    @param("when", type="date", default_value="2024-01-31", validation=None)
    @param("count", type="int", required=True, validation={"min": 1, "max": 5, "message": "1 to 5"})
    def fn(context, when, count):
        return None

    data = spec_of(fn).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "name", "description", "category", "tags", "parameters", "execution_mode",
        "timeout_seconds", "schedule", "schedule_timezone", "endpoint_enabled",
        "allowed_methods", "public_endpoint", "retry_policy", "max_concurrency", "time_saved_minutes",
        "approval_policy",
    }  # fmt: skip
    assert [p["name"] for p in data["parameters"]] == ["when", "count"]
    assert data["parameters"][1] == {
        "name": "count",
        "type": "int",
        "label": "Count",
        "required": True,
        "default_value": None,
        "help_text": None,
        "validation": {"min": 1, "max": 5, "message": "1 to 5"},
        "data_provider": None,
    }
    # Mutating the dict does not touch the frozen spec.
    data["tags"].append("y")
    assert spec_of(fn).tags == ["x"]


# --------------------------------------------------------------------------- @param


def test_params_keep_declaration_order_with_workflow_on_top() -> None:
    @workflow(name="order_top")
    @param("a")
    @param("b")
    @param("c")
    def fn(context, a=None, b=None, c=None):
        return None

    assert [p.name for p in spec_of(fn).parameters] == ["a", "b", "c"]


def test_params_keep_declaration_order_with_workflow_at_bottom() -> None:
    @param("a")
    @param("b")
    @param("c")
    @workflow(name="order_bottom")
    def fn(context, a=None, b=None, c=None):
        return None

    spec = spec_of(fn)
    assert [p.name for p in spec.parameters] == ["a", "b", "c"]
    # The registry holds the final spec, not the parameterless first version.
    assert registry.workflows["order_bottom"] is spec


def test_params_on_both_sides_are_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="same side"):

        @param("a")
        @workflow(name="both_sides")
        @param("b")
        def fn(context, a=None, b=None):
            return None


def test_duplicate_param_names_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="declared twice"):

        @workflow(name="dupe_param")
        @param("a")
        @param("a")
        def fn(context, a=None):
            return None


def test_param_must_be_a_function_argument() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"@param\('ghost'\) is not an argument"):

        @workflow(name="ghost_on_top")
        @param("ghost")
        def fn(context):
            return None

    with pytest.raises(WorkflowDefinitionError, match="not an argument"):

        @param("ghost")
        @workflow(name="ghost_below")
        def fn2(context):
            return None


def test_param_accepted_by_kwargs() -> None:
    @workflow(name="kw_flow")
    @param("anything")
    def fn(context, **kwargs):
        return kwargs

    assert [p.name for p in spec_of(fn).parameters] == ["anything"]


def test_undeclared_required_argument_rejected_when_workflow_on_top() -> None:
    with pytest.raises(WorkflowDefinitionError, match="'b' has no default"):

        @workflow(name="missing_b")
        @param("a", required=True)
        def fn(context, a, b):
            return None


def test_undeclared_required_argument_rejected_at_capture_end() -> None:
    with pytest.raises(WorkflowDefinitionError, match="'b' has no default"), registry.capture():

        @param("a", required=True)
        @workflow(name="missing_b_later")
        def fn(context, a, b):
            return None


def test_no_params_and_required_argument_rejected_at_capture_end() -> None:
    with pytest.raises(WorkflowDefinitionError, match="'x' has no default"), registry.capture():

        @workflow(name="needs_x")
        def fn(context, x):
            return None


def test_optional_param_without_any_default_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="optional but neither"):

        @workflow(name="opt_no_default")
        @param("a")
        def fn(context, a):
            return None


def test_optional_param_with_default_value_accepted() -> None:
    @workflow(name="opt_with_default")
    @param("a", type="int", default_value="3")
    def fn(context, a):
        return a

    assert spec_of(fn).parameters[0].default_value == 3


def test_positional_only_arguments_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="positional-only"):

        @workflow(name="pos_only")
        @param("a", required=True)
        def fn(context, a, /):
            return None


def test_not_a_function_or_generator() -> None:
    with pytest.raises(WorkflowDefinitionError, match="must decorate a function"):
        workflow(name="klass")(type("K", (), {}))
    with pytest.raises(WorkflowDefinitionError, match="generator"):

        @workflow(name="gen")
        def gen(context):
            yield 1


def test_decorating_twice_rejected() -> None:
    def fn(context):
        return None

    workflow(name="twice_a")(fn)
    with pytest.raises(WorkflowDefinitionError, match="already decorated"):
        workflow(name="twice_b")(fn)
    with pytest.raises(WorkflowDefinitionError, match="already decorated"):
        data_provider(name="twice_c")(fn)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("bad-name",), {}, "valid Python identifier"),
        (("class",), {}, "valid Python identifier"),
        (("context",), {}, "reserved"),
        (("a",), {"type": "integer"}, "type must be one of"),
        (("a",), {"required": "yes"}, "required"),
        (("a",), {"label": 3}, "label"),
        (("a",), {"help_text": 3}, "help_text"),
        (("a",), {"data_provider": "Bad Name"}, "data_provider"),
        (("a",), {"validation": "x"}, "validation must be a dict"),
        (("a",), {"validation": {"regex": "x"}}, "unknown key"),
        (("a",), {"validation": {"pattern": "("}}, "does not compile"),
        (("a",), {"validation": {"pattern": 5}}, "pattern"),
        (("a",), {"type": "int", "validation": {"pattern": "x"}}, "only applies to string"),
        (("a",), {"type": "bool", "validation": {"min": 1}}, "does not apply"),
        (("a",), {"type": "int", "validation": {"min": "1"}}, "must be a number"),
        (("a",), {"type": "int", "validation": {"min": True}}, "must be a number"),
        (("a",), {"type": "int", "validation": {"min": 5, "max": 1}}, "greater than max"),
        (("a",), {"validation": {"min": 1.5}}, "whole number"),
        (("a",), {"validation": {"message": 3, "min": 1}}, "message"),
        (("a",), {"type": "int", "default_value": "abc"}, "default_value"),
        (("a",), {"type": "int", "default_value": 10, "validation": {"max": 5}}, "default_value"),
    ],
)
def test_invalid_param_declarations(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        param(*args, **kwargs)


def test_param_spec_label_and_round_trip() -> None:
    @workflow(name="labels")
    @param("first_name", label=None, help_text="Given name", validation={"min": 1, "max": None})
    @param("dob", type="date", label="Birthday")
    def fn(context, first_name="", dob=None):
        return None

    first, dob = spec_of(fn).parameters
    assert first.label == "First name"
    assert first.validation == {"min": 1}
    assert dob.label == "Birthday"
    assert ParamSpec.from_dict(first.to_dict()) == first
    with pytest.raises(WorkflowDefinitionError):
        ParamSpec.from_dict({"type": "int"})


# --------------------------------------------------------------------------- @data_provider


def test_data_provider_spec_and_stacking() -> None:
    @data_provider("licences", description="Licence SKUs", cache_ttl_seconds=0)
    @param("tenant", required=True)
    def licences(context, tenant):
        return ["a"]

    spec = licences.__bifrost_data_provider__
    assert isinstance(spec, DataProviderSpec)
    assert spec.name == "licences"
    assert spec.cache_ttl_seconds == 0
    assert spec.takes_context is True
    assert [p.name for p in spec.parameters] == ["tenant"]
    assert registry.data_providers["licences"] is spec
    assert spec.to_dict() == {
        "name": "licences",
        "description": "Licence SKUs",
        "category": "General",
        "parameters": [spec.parameters[0].to_dict()],
        "cache_ttl_seconds": 0,
    }

    @param("q")
    @data_provider()
    async def search(q=None):
        """Search things."""
        return []

    dp = search.__bifrost_data_provider__
    assert dp.name == "search" and dp.is_async and dp.description == "Search things."
    assert [p.name for p in dp.parameters] == ["q"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad"}, "name must match"),
        ({"name": "ok", "cache_ttl_seconds": -1}, "cache_ttl_seconds"),
        ({"name": "ok", "cache_ttl_seconds": 1.5}, "cache_ttl_seconds"),
        ({"name": "ok", "category": ""}, "category"),
    ],
)
def test_invalid_data_provider_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):

        @data_provider(**kwargs)
        def fn(context):
            return []


def test_normalize_options_accepts_strings_dicts_and_metadata() -> None:
    assert normalize_options(
        ["a", {"label": "B", "value": 2, "metadata": {"x": 1}}, {"label": "C", "value": True}]
    ) == [
        {"label": "a", "value": "a"},
        {"label": "B", "value": 2, "metadata": {"x": 1}},
        {"label": "C", "value": True},
    ]
    assert normalize_options(()) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"label": "a", "value": "a"}, "must return a list"),
        ("abc", "must return a list"),
        (None, "must return a list"),
        ([1], "option 0 must be a dict or a string"),
        (["ok", {"label": "x"}], "option 1 is missing value"),
        ([{"value": "x"}], "missing label"),
        ([{"label": "x", "value": "x", "extra": 1}], "unexpected key"),
        ([{"label": 1, "value": "x"}], "label must be a string"),
        ([{"label": "x", "value": {"a": 1}}], "value must be"),
        ([{"label": "x", "value": float("nan")}], "value must be"),
        ([{"label": "x", "value": "x", "metadata": [1]}], "metadata must be a dict"),
    ],
)
def test_normalize_options_rejects(value: Any, message: str) -> None:
    with pytest.raises(DataProviderError, match=message):
        normalize_options(value)


def test_specs_are_hashable_by_identity() -> None:
    spec = define()
    assert {spec: 1}[spec] == 1
    assert spec != define()


def test_max_concurrency_is_a_positive_integer_or_none() -> None:
    @workflow(name="limited", max_concurrency=3)
    def limited():
        return None

    assert spec_of(limited).max_concurrency == 3
    assert spec_of(limited).to_dict()["max_concurrency"] == 3
    for bad in (0, -1, True, "2", 1.5):
        with pytest.raises(WorkflowDefinitionError, match="max_concurrency"):

            @workflow(name=f"bad_limit_{abs(hash(repr(bad)))}", max_concurrency=bad)
            def bad_limit():
                return None


def test_time_saved_minutes_is_a_non_negative_integer_or_none() -> None:
    @workflow(name="saver", time_saved_minutes=12)
    def saver():
        return None

    assert spec_of(saver).to_dict()["time_saved_minutes"] == 12
    for bad in (-1, True, "5", 2.5, 100_001):
        with pytest.raises(WorkflowDefinitionError, match="time_saved_minutes"):

            @workflow(name=f"bad_saver_{abs(hash(repr(bad)))}", time_saved_minutes=bad)
            def bad_saver():
                return None
