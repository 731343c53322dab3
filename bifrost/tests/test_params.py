"""coerce_parameters: coercion of every type, validation rules and error collection."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrost import ParameterValidationError, ParamSpec, coerce_parameters
from bifrost.params import REQUIRED_MESSAGE, coerce_value, make_param_spec


def p(name: str = "f", **kwargs: Any) -> ParamSpec:
    return make_param_spec(name, **kwargs)


def coerce_one(value: Any, **kwargs: Any) -> Any:
    return coerce_parameters([p(**kwargs)], {"f": value})["f"]


def errors_for(specs: list[ParamSpec], raw: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ParameterValidationError) as excinfo:
        coerce_parameters(specs, raw, **kwargs)
    return excinfo.value.errors


def bad(value: Any, **kwargs: Any) -> list[str]:
    return errors_for([p(**kwargs)], {"f": value})["f"]


# --------------------------------------------------------------------------- per type


@pytest.mark.parametrize(
    ("value", "expected"),
    [("hello", "hello"), ("  spaced ", "  spaced "), (42, "42"), (1.5, "1.5")],
)
def test_string(value: Any, expected: str) -> None:
    assert coerce_one(value) == expected


@pytest.mark.parametrize("value", [True, [1], {"a": 1}])
def test_string_rejects(value: Any) -> None:
    assert bad(value) == ["Enter a valid string."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(42, 42), ("42", 42), (" -7 ", -7), ("+3", 3), (2.0, 2), ("0", 0), (10**30, 10**30)],
)
def test_int(value: Any, expected: int) -> None:
    result = coerce_one(value, type="int")
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [1.5, True, False, "1.5", "abc", " ", "1e3", [1], "4" * 5000, float("inf")])
def test_int_rejects(value: Any) -> None:
    assert bad(value, type="int") == ["Enter a whole number."]


def test_int_blank_string_is_invalid_not_missing() -> None:
    assert bad(" ", type="int") == ["Enter a whole number."]
    assert coerce_parameters([p(type="int")], {"f": ""}) == {}


@pytest.mark.parametrize(("value", "expected"), [(1.5, 1.5), ("2.25", 2.25), (3, 3.0), ("-1e3", -1000.0)])
def test_float(value: Any, expected: float) -> None:
    result = coerce_one(value, type="float")
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize("value", [True, "nan", "inf", "-Infinity", float("nan"), "1,5", {}, 10**400])
def test_float_rejects(value: Any) -> None:
    messages = bad(value, type="float")
    assert messages[0].startswith("Enter a")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("No", False),
        (" on ", True),
        ("off", False),
        (1, True),
        (0, False),
    ],
)
def test_bool(value: Any, expected: bool) -> None:
    assert coerce_one(value, type="bool") is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2, -1, 1.0, "t", [True]])
def test_bool_rejects(value: Any) -> None:
    assert bad(value, type="bool") == ["Enter true or false."]


@pytest.mark.parametrize("value", ["a@b.co", " user.name+tag@sub.example.com ", "x@xn--bcher-kva.example"])
def test_email(value: str) -> None:
    assert coerce_one(value, type="email") == value.strip()


@pytest.mark.parametrize(
    "value", ["plain", "a@b", "a@@b.com", "a b@c.com", "a@-b.com", "@b.com", 5, "a@" + "b" * 250 + ".com"]
)
def test_email_rejects(value: Any) -> None:
    assert bad(value, type="email") == ["Enter a valid email address."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, 2]}, {"a": [1, 2]}),
        ([1, "x"], [1, "x"]),
        (3, 3),
        (True, True),
        ('{"a": 1}', {"a": 1}),
        ('"text"', "text"),
        ("[1, 2]", [1, 2]),
        ("null", None),
        ((1, 2), [1, 2]),
    ],
)
def test_json(value: Any, expected: Any) -> None:
    assert coerce_parameters([p(type="json")], {"f": value}).get("f") == expected


@pytest.mark.parametrize("value", ["{not json", "NaN", float("nan"), {1: "int key"}, {"a": object()}, b"bytes"])
def test_json_rejects(value: Any) -> None:
    (message,) = bad(value, type="json")
    assert message.startswith(("Enter valid JSON", "Enter a valid JSON value"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        (("a", 1), ["a", 1]),
        ("a, b ,c", ["a", "b", "c"]),
        ("a,,b,", ["a", "b"]),
        ("single", ["single"]),
        ('["x", 2]', ["x", 2]),
        (" [1] ", [1]),
    ],
)
def test_list(value: Any, expected: list[Any]) -> None:
    assert coerce_one(value, type="list") == expected


@pytest.mark.parametrize("value", ["[1,", "[1] x", 5, {"a": 1}, [float("nan")], [{1: 2}]])
def test_list_rejects(value: Any) -> None:
    assert bad(value, type="list")


def test_list_json_string_that_is_not_a_list() -> None:
    # Starts with "[" but parses to something else is impossible; an object string is a
    # single comma-free item, so it is one element, not an error.
    assert coerce_one('{"a": 1}', type="list") == ['{"a": 1}']


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-02-29", "2024-02-29"), (" 2024-01-31 ", "2024-01-31"), (dt.date(2024, 1, 2), "2024-01-02")],
)
def test_date(value: Any, expected: str) -> None:
    assert coerce_one(value, type="date") == expected


@pytest.mark.parametrize(
    "value",
    ["2023-02-29", "2024-13-01", "20240101", "2024-01-01T10:00:00", "yesterday", 20240101, dt.datetime(2024, 1, 1)],
)
def test_date_rejects(value: Any) -> None:
    assert bad(value, type="date") == ["Enter a valid date (YYYY-MM-DD)."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31T09:30:00", "2024-01-31T09:30:00"),
        ("2024-01-31T09:30:00Z", "2024-01-31T09:30:00+00:00"),
        ("2024-01-31 09:30:00+02:00", "2024-01-31T09:30:00+02:00"),
        ("2024-01-31", "2024-01-31T00:00:00"),
        (dt.datetime(2024, 1, 31, 9, 30, tzinfo=dt.UTC), "2024-01-31T09:30:00+00:00"),
    ],
)
def test_datetime(value: Any, expected: str) -> None:
    assert coerce_one(value, type="datetime") == expected


@pytest.mark.parametrize("value", ["2024-01-31T25:00", "31/01/2024", "now", 1706693400, dt.date(2024, 1, 1)])
def test_datetime_rejects(value: Any) -> None:
    assert bad(value, type="datetime")[0].startswith("Enter a valid date/time")


# --------------------------------------------------------------------------- rules


def test_min_max_on_numbers_are_values() -> None:
    rules = {"min": 1, "max": 10}
    assert coerce_one("10", type="int", validation=rules) == 10
    assert bad(0, type="int", validation=rules) == ["Ensure this value is greater than or equal to 1."]
    assert bad(11, type="int", validation=rules) == ["Ensure this value is less than or equal to 10."]
    assert bad(0.5, type="float", validation={"min": 0.75}) == ["Ensure this value is greater than or equal to 0.75."]


def test_min_max_on_strings_and_lists_are_lengths() -> None:
    assert bad("ab", validation={"min": 3}) == ["Ensure this value has at least 3 characters."]
    assert bad("abcd", validation={"max": 3}) == ["Ensure this value has at most 3 characters."]
    assert bad("a,b", type="list", validation={"max": 1}) == ["Ensure this value has at most 1 item."]
    assert bad(["a"], type="list", validation={"min": 2}) == ["Ensure this value has at least 2 items."]
    assert coerce_one("abc", validation={"min": 3, "max": 3}) == "abc"
    assert bad("a@b.co", type="email", validation={"max": 5}) == ["Ensure this value has at most 5 characters."]


def test_pattern_matches_the_whole_string() -> None:
    rules = {"pattern": r"[A-Z]{3}\d"}
    assert coerce_one("ABC1", validation=rules) == "ABC1"
    assert bad("xABC1", validation=rules) == ["Enter a value in the required format."]
    assert bad("ABC12", validation=rules) == ["Enter a value in the required format."]


def test_message_overrides_rule_text_but_not_type_errors() -> None:
    rules = {"pattern": r"\d+", "min": 3, "message": "Use 3+ digits."}
    assert bad("1", validation=rules) == ["Use 3+ digits."]
    assert bad("abc", validation=rules) == ["Use 3+ digits."]
    assert bad("x", type="int", validation={"min": 1, "message": "Too small"}) == ["Enter a whole number."]


def test_several_rule_failures_are_all_reported() -> None:
    assert bad("a", validation={"pattern": r"\d+", "min": 2}) == [
        "Ensure this value has at least 2 characters.",
        "Enter a value in the required format.",
    ]


# --------------------------------------------------------------------------- presence


def test_required_missing_none_and_blank() -> None:
    specs = [p("a", required=True), p("b", type="int", required=True), p("c", type="list", required=True)]
    assert errors_for(specs, {"b": None, "c": []}) == {
        "a": [REQUIRED_MESSAGE],
        "b": [REQUIRED_MESSAGE],
        "c": [REQUIRED_MESSAGE],
    }
    assert errors_for([p("a", required=True)], {"a": ""}) == {"a": [REQUIRED_MESSAGE]}


def test_defaults_applied_when_missing_and_copied() -> None:
    specs = [
        p("n", type="int", default_value=5),
        p("tags", type="list", default_value=["x"]),
        p("cfg", type="json", default_value={"k": [1]}),
        p("opt"),
        p("req_with_default", required=True, default_value="d"),
    ]
    first = coerce_parameters(specs, {})
    assert first == {"n": 5, "tags": ["x"], "cfg": {"k": [1]}, "req_with_default": "d"}
    assert "opt" not in first  # left out so the function's own default applies
    first["cfg"]["k"].append(2)
    first["tags"].append("y")
    assert coerce_parameters(specs, {}) == {"n": 5, "tags": ["x"], "cfg": {"k": [1]}, "req_with_default": "d"}
    assert coerce_parameters(specs, {"n": "7"})["n"] == 7


def test_json_type_keeps_explicit_falsy_values() -> None:
    spec = [p(type="json", default_value={"d": 1})]
    assert coerce_parameters(spec, {"f": []}) == {"f": []}
    assert coerce_parameters(spec, {"f": {}}) == {"f": {}}
    assert coerce_parameters(spec, {"f": 0}) == {"f": 0}
    assert coerce_parameters(spec, {"f": False}) == {"f": False}


def test_unknown_keys() -> None:
    specs = [p("a")]
    assert errors_for(specs, {"a": "x", "b": 1, "c": 2}) == {"b": ["Unknown parameter."], "c": ["Unknown parameter."]}
    assert coerce_parameters(specs, {"a": "x", "b": {"raw": True}}, allow_unknown=True) == {
        "a": "x",
        "b": {"raw": True},
    }


def test_all_bad_fields_are_reported_together() -> None:
    specs = [
        p("name", required=True),
        p("age", type="int", validation={"min": 18}),
        p("email", type="email"),
        p("active", type="bool"),
        p("ok"),
    ]
    errors = errors_for(specs, {"age": "17", "email": "nope", "active": "maybe", "ok": "fine", "extra": 1})
    assert errors == {
        "name": [REQUIRED_MESSAGE],
        "age": ["Ensure this value is greater than or equal to 18."],
        "email": ["Enter a valid email address."],
        "active": ["Enter true or false."],
        "extra": ["Unknown parameter."],
    }


def test_error_message_and_types() -> None:
    with pytest.raises(ParameterValidationError) as excinfo:
        coerce_parameters([p("a", required=True)], {})
    assert isinstance(excinfo.value, ValueError)
    assert str(excinfo.value) == "Invalid parameters: a: This field is required."


def test_raw_must_be_a_mapping_and_none_is_empty() -> None:
    assert errors_for([p("a")], ["a"]) == {"non_field_errors": ["Parameters must be a JSON object."]}
    assert coerce_parameters([p("a", default_value="x")], None) == {"a": "x"}


def test_specs_may_be_stored_dicts() -> None:
    stored = [p("n", type="int", required=True, validation={"max": 3}).to_dict()]
    assert coerce_parameters(stored, {"n": "2"}) == {"n": 2}
    assert errors_for(stored, {"n": "4"}) == {"n": ["Ensure this value is less than or equal to 3."]}


def test_coerce_value_single() -> None:
    assert coerce_value(p(type="int"), "3") == 3
    with pytest.raises(ParameterValidationError) as excinfo:
        coerce_value(p(type="int"), "x")
    assert excinfo.value.errors == {"f": ["Enter a whole number."]}


# --------------------------------------------------------------------------- properties


@settings(deadline=None)
@given(st.integers())
def test_property_int_round_trips_through_strings(n: int) -> None:
    specs = [p("n", type="int")]
    assert coerce_parameters(specs, {"n": n}) == {"n": n}
    assert coerce_parameters(specs, {"n": str(n)}) == {"n": n}
    assert coerce_parameters(specs, {"n": f" {n} "}) == {"n": n}


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_property_float_round_trips_through_repr(x: float) -> None:
    assert coerce_parameters([p("x", type="float")], {"x": repr(x)}) == {"x": x}


@settings(deadline=None)
@given(st.booleans())
def test_property_bool_round_trips(b: bool) -> None:
    specs = [p("b", type="bool")]
    assert coerce_parameters(specs, {"b": str(b)})["b"] is b
    assert coerce_parameters(specs, {"b": str(b).lower()})["b"] is b
    assert coerce_parameters(specs, {"b": str(int(b))})["b"] is b


@settings(deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",)))
        .map(str.strip)
        .filter(bool)
    )
)
def test_property_list_comma_and_json_agree(items: list[str]) -> None:
    import json

    specs = [p("l", type="list")]
    if items and not items[0].startswith("["):
        assert coerce_parameters(specs, {"l": ",".join(items)}) == {"l": items}
    if items:
        assert coerce_parameters(specs, {"l": json.dumps(items)}) == {"l": items}


@settings(deadline=None)
@given(st.dates())
def test_property_dates_round_trip(day: dt.date) -> None:
    assert coerce_parameters([p("d", type="date")], {"d": day.isoformat()}) == {"d": day.isoformat()}


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "zz"]),
        st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)),
    )
)
def test_property_either_valid_result_or_every_error_named(raw: dict[str, Any]) -> None:
    """Never anything but a dict or ParameterValidationError; errors only name real problems."""
    specs = [
        p("a", type="int", required=True),
        p("b", type="bool"),
        p("c", type="list", validation={"max": 1}),
        p("d", validation={"max": 3}),
    ]
    try:
        result = coerce_parameters(specs, raw)
    except ParameterValidationError as exc:
        assert exc.errors
        assert set(exc.errors) <= {"a", "b", "c", "d", "zz"}
        for field, messages in exc.errors.items():
            assert messages and all(isinstance(m, str) and m for m in messages)
            # Each erroring field on its own errors too (errors are per field, not global).
            single = {field: raw[field]} if field in raw else {}
            with pytest.raises(ParameterValidationError) as again:
                coerce_parameters([s for s in specs if s.name == field] or specs[:0], single)
            assert field in again.value.errors
    else:
        assert set(result) <= {"a", "b", "c", "d"}
        assert type(result["a"]) is int
        assert "zz" not in raw
