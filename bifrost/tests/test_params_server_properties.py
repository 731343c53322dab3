"""Property tests of parameter coercion as the server uses it (issue 9).

The web process coerces the raw JSON of a request, stores the result in `Execution.parameters`,
sends it to the worker through Celery's JSON serializer, and a re-run coerces the STORED
parameters again. So, for every declared type and any JSON input:

- coercion returns a dict or raises ParameterValidationError, nothing else;
- the result survives a JSON round trip unchanged (what is stored is what runs);
- coercing the result again gives the same result (a re-run receives what the first run received).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifrost.errors import ParameterValidationError, WorkflowDefinitionError
from bifrost.params import PARAM_TYPES, ParamSpec, coerce_parameters

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    # strings that look like the other types
    st.sampled_from(
        [
            "42",
            " 7 ",
            "1e309",
            "-0",
            "true",
            "no",
            "[1, 2]",
            "a,b, c",
            "{}",
            "NaN",
            "2024-02-30",
            "2024-02-29",
            "2024-01-31T09:30:00+00:00",
            "2024-01-31T25:00",
            "x@example.com",
            "@",
            "",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)

validations = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "min": st.integers(min_value=-5, max_value=5),
            "max": st.integers(min_value=0, max_value=10),
            "pattern": st.sampled_from([r"[a-z]+", r".*", r"[0-9]{1,3}"]),
            "message": st.just("Custom message."),
        },
    ),
)


@st.composite
def specs(draw) -> list[ParamSpec]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
    result = []
    for name in names:
        declaration = {
            "name": name,
            "type": draw(st.sampled_from(PARAM_TYPES)),
            "required": draw(st.booleans()),
            "validation": draw(validations),
        }
        try:
            result.append(ParamSpec.from_dict(declaration))
        except WorkflowDefinitionError:  # e.g. a pattern on an int: discovery refuses it too
            declaration["validation"] = None
            result.append(ParamSpec.from_dict(declaration))
    return result


@FUZZ
@given(specs(), st.dictionaries(st.sampled_from(["a", "b", "c", "d", "extra"]), json_values, max_size=5))
def test_coercion_is_total_json_safe_and_idempotent(param_specs: list[ParamSpec], raw: dict[str, Any]) -> None:
    try:
        result = coerce_parameters(param_specs, raw, allow_unknown=True)
    except ParameterValidationError as exc:
        assert exc.errors
        assert all(messages and all(isinstance(m, str) for m in messages) for messages in exc.errors.values())
        return
    assert isinstance(result, dict)
    stored = json.loads(json.dumps(result, allow_nan=False))  # what Execution.parameters and Celery carry
    assert stored == result
    assert coerce_parameters(param_specs, stored, allow_unknown=True) == result  # a re-run gets the same


@FUZZ
@given(json_values)
def test_a_body_that_is_not_an_object_is_a_validation_error(raw: Any) -> None:
    if isinstance(raw, dict):
        return
    try:
        coerce_parameters([ParamSpec.from_dict({"name": "a", "type": "string"})], raw)
    except ParameterValidationError as exc:
        assert exc.errors == {"non_field_errors": ["Parameters must be a JSON object."]} or raw is None
    else:
        assert raw is None  # no parameters at all is allowed: every parameter is then missing
