"""visible_if rules: validation, and the same answers from Python (server) and json-logic-js (browser)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms_app import jsonlogic

CASES = json.loads((Path(__file__).parent / "data" / "jsonlogic_cases.json").read_text())
LOGIC_JS = Path(__file__).resolve().parents[1] / "static" / "forms_app" / "vendor" / "logic.js"
NODE_RUNNER = """
const jsonLogic = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(({rule, data}) => {
  try {
    const v = jsonLogic.apply(rule, data);
    return {value: v === undefined ? null : v, truthy: jsonLogic.truthy(v)};
  }
  catch (e) { return {error: String(e)}; }
});
process.stdout.write(JSON.stringify(out));
"""


def run_node(cases):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the shared JSON Logic test")
    completed = subprocess.run(
        [node, "-e", NODE_RUNNER, str(LOGIC_JS)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(completed.stdout)


def python_answer(rule, data):
    try:
        value = jsonlogic.evaluate(rule, data)
    except ValueError as exc:
        return {"error": str(exc)}
    return {"value": value, "truthy": jsonlogic.truthy(value)}


def test_vendored_logic_js_keeps_its_licence_header():
    head = LOGIC_JS.read_text()[:400]
    assert "json-logic-js 2.0.5" in head and "MIT License" in head and "Jeremy Wadhams" in head


def test_python_and_json_logic_js_agree_on_the_shared_table():
    js_answers = run_node(CASES)
    mismatches = []
    for case, js in zip(CASES, js_answers, strict=True):
        py = python_answer(case["rule"], case["data"])
        assert "error" not in js and "error" not in py, (case, js, py)
        if py["truthy"] != js["truthy"]:
            mismatches.append((case, "truthy", py, js))
        # values agree too, except where JS yields undefined ({"and": []}) and Python False
        elif json.dumps(py["value"]) != json.dumps(js["value"]) and js["value"] is not None:
            mismatches.append((case, "value", py, js))
    assert mismatches == []


def test_every_visible_field_decision_agrees_for_generated_data():
    rule = {"and": [{"==": [{"var": "field.kind"}, "b"]}, {">": [{"var": "field.n"}, 2]}]}
    datas = [{"field": {"kind": k, "n": n}} for k in ("a", "b", "", None, 0) for n in (0, 2, 3, "3", "x", None)]
    js_answers = run_node([{"rule": rule, "data": d} for d in datas])
    for data, js in zip(datas, js_answers, strict=True):
        assert jsonlogic.is_visible(rule, data) == js["truthy"], data


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"method": ["a", "upper"]}, "unknown JSON Logic operator 'method'"),
        ({"log": [1]}, "unknown"),
        ({"var": "secret"}, "must start with field., query. or workflow."),
        ({"missing": ["field.a", "env.b"]}, "env.b"),
        ({"==": [1, 2], "!=": [1, 2]}, "exactly one operator"),
        ({"missing_some": [1, "field.a"]}, "missing_some"),
    ],
)
def test_rule_errors(rule, fragment):
    errors = jsonlogic.rule_errors(rule)
    assert errors and any(fragment in e for e in errors), errors


def test_scoped_operators_may_use_item_variables():
    assert jsonlogic.rule_errors({"some": [{"var": "field.tags"}, {"==": [{"var": ""}, "vip"]}]}) == []
    assert jsonlogic.rule_errors({"some": [{"var": "nope"}, {"var": ""}]})


def test_a_rule_that_fails_leaves_the_field_visible():
    assert jsonlogic.is_visible({"unknown_op": [1]}, {}) is True
    assert jsonlogic.is_visible(None, {}) is True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "a", "1", "0", "b"]),
    lambda children: st.lists(children, max_size=3),
    max_leaves=6,
)
operators = st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "and", "or", "in", "!", "!!", "cat", "===", "!=="])


@settings(max_examples=150, deadline=None)
@given(operators, json_values, json_values)
def test_property_evaluation_never_crashes_and_validates(op, a, b):
    """Any rule over plain values either evaluates or raises ValueError (never another error),
    and rules built from allowed operators validate."""
    rule = {op: [{"var": "field.a"}, {"var": "field.b"}]} if op not in ("!", "!!") else {op: [{"var": "field.a"}]}
    assert jsonlogic.rule_errors(rule) == []
    try:
        jsonlogic.evaluate(rule, {"field": {"a": a, "b": b}})
    except ValueError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(operators, json_values, json_values), min_size=1, max_size=25))
def test_property_python_matches_js_on_generated_rules(triples):
    cases = []
    for op, a, b in triples:
        if op in ("in",) and not isinstance(b, list | str):
            b = [b]
        args = [a] if op in ("!", "!!") else [a, b]
        cases.append({"rule": {op: args}, "data": {}})
    js_answers = run_node(cases)
    for case, js in zip(cases, js_answers, strict=True):
        if "error" in js:
            continue
        py = python_answer(case["rule"], case["data"])
        assert py.get("truthy") == js["truthy"], (case, py, js)
