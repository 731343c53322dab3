"""JSON Logic for `visible_if` and data-provider `expression` inputs (DESIGN §5 form field).

The server evaluates rules with the pinned `json-logic-qubit` package; the browser evaluates the
same rules with json-logic-js (vendored in static/forms_app/vendor/logic.js). Only the operators
both implement identically are accepted when a form is saved (`log` and `method` are refused:
`method` calls arbitrary methods of the data). `forms_app/tests/test_jsonlogic_shared.py` runs one
table of rules through both engines to prove they agree.

Data is `{"field": {...}, "query": {...}, "workflow": {...}}`; `var` paths outside scoped
operators (some/all/none/map/filter/reduce, whose inner `var`s refer to the current item) must start
with one of those three roots.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from json_logic import add_operation, jsonLogic

logger = logging.getLogger(__name__)

ROOTS = ("field", "query", "workflow")
DATA_OPERATORS = frozenset({"var", "missing", "missing_some"})
SCOPED_OPERATORS = frozenset({"some", "all", "none", "map", "filter", "reduce"})
ALLOWED_OPERATORS = frozenset(
    {
        "if",
        "?:",
        "==",
        "===",
        "!=",
        "!==",
        "!",
        "!!",
        "or",
        "and",
        ">",
        ">=",
        "<",
        "<=",
        "max",
        "min",
        "+",
        "-",
        "*",
        "/",
        "%",
        "in",
        "cat",
        "substr",
        "merge",
    }
    | DATA_OPERATORS
    | SCOPED_OPERATORS
)
MAX_DEPTH = 32


def rule_errors(rule: Any, *, path: str = "") -> list[str]:
    """Problems with a rule, each prefixed with its location inside the rule ("" when fine)."""
    errors: list[str] = []
    _check(rule, path, errors, scoped=False, depth=0)
    return errors


def _is_operation(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1


def _check(node: Any, path: str, errors: list[str], *, scoped: bool, depth: int) -> None:
    if depth > MAX_DEPTH:
        errors.append(f"{path or 'rule'}: the rule is nested too deeply (at most {MAX_DEPTH} levels).")
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check(item, f"{path}[{index}]", errors, scoped=scoped, depth=depth + 1)
        return
    if isinstance(node, dict):
        if len(node) != 1:
            errors.append(f"{path or 'rule'}: an operation is an object with exactly one operator key.")
            return
        ((operator, args),) = node.items()
        where = f"{path}.{operator}" if path else operator
        if operator not in ALLOWED_OPERATORS:
            errors.append(f"{where}: unknown JSON Logic operator '{operator}'.")
            return
        if operator in DATA_OPERATORS and not scoped:
            _check_data_paths(operator, args, where, errors)
        if operator in SCOPED_OPERATORS:
            items = args if isinstance(args, list) else [args]
            if not items:
                errors.append(f"{where}: '{operator}' needs a list and a rule.")
                return
            _check(items[0], f"{where}[0]", errors, scoped=scoped, depth=depth + 1)
            for index, item in enumerate(items[1:], start=1):
                _check(item, f"{where}[{index}]", errors, scoped=True, depth=depth + 1)
            return
        _check(args, where, errors, scoped=scoped, depth=depth + 1)
        return
    if node is None or isinstance(node, str | int | float | bool):
        return
    errors.append(f"{path or 'rule'}: unsupported value {node!r}.")


def _check_data_paths(operator: str, args: Any, where: str, errors: list[str]) -> None:
    if operator == "var":
        name = args[0] if isinstance(args, list) and args else args
        names = [name]
    elif operator == "missing":
        names = args if isinstance(args, list) else [args]
    else:  # missing_some: [need_count, [names]]
        names = args[1] if isinstance(args, list) and len(args) == 2 and isinstance(args[1], list) else None
        if names is None:
            errors.append(f"{where}: 'missing_some' takes [count, [names]].")
            return
    for name in names:
        if _is_operation(name):
            continue  # computed path; checked as an operation elsewhere
        if not isinstance(name, str | int) or str(name).split(".")[0] not in ROOTS:
            errors.append(f"{where}: variable '{name}' must start with field., query. or workflow.")


# --- JavaScript semantics for the operators where json-logic-qubit 0.9.1 differs from json-logic-js.
# (qubit: `0 == ""` is false, `null == false` true, `cat` prints None, `{}` is falsy, `null <= 0` false.)


def _js_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _js_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | dict):
        return _js_number(_js_string(value))
    text = str(value).strip()
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan


def _js_loose_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | dict) and isinstance(b, list | dict):
        return a is b
    if isinstance(a, list | dict):
        a = _js_string(a)
    if isinstance(b, list | dict):
        b = _js_string(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return _js_number(a) == _js_number(b)


def _js_strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return a is b  # objects are equal only to themselves, as in JavaScript
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _js_in(a: Any, b: Any) -> bool:
    if isinstance(b, str):
        return _js_string(a) in b
    if isinstance(b, list):
        return any(_js_strict_equal(a, item) for item in b)
    raise TypeError("'in' needs a list or a string")


def _js_compare(a: Any, b: Any, op) -> bool:
    if isinstance(a, list | dict):
        a = _js_string(a)
    if isinstance(b, list | dict):
        b = _js_string(b)
    if isinstance(a, str) and isinstance(b, str):
        return op(a, b)
    x, y = _js_number(a), _js_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return op(x, y)


_ABSENT = object()


def _lt(a, b, c=_ABSENT):
    first = _js_compare(a, b, lambda x, y: x < y)
    return first if c is _ABSENT else first and _js_compare(b, c, lambda x, y: x < y)


def _le(a, b, c=_ABSENT):
    first = _js_compare(a, b, lambda x, y: x <= y)
    return first if c is _ABSENT else first and _js_compare(b, c, lambda x, y: x <= y)


def truthy(value: Any) -> bool:
    """JSON Logic truthiness as json-logic-js has it: an empty list is false, `{}` is true."""
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


add_operation("==", _js_loose_equal)
add_operation("!=", lambda a, b: not _js_loose_equal(a, b))
add_operation("===", _js_strict_equal)
add_operation("in", _js_in)
add_operation("!==", lambda a, b: not _js_strict_equal(a, b))
add_operation("<", _lt)
add_operation("<=", _le)
add_operation(">", lambda a, b: _js_compare(a, b, lambda x, y: x > y))
add_operation(">=", lambda a, b: _js_compare(a, b, lambda x, y: x >= y))
add_operation("!!", truthy)
add_operation("!", lambda a: not truthy(a))
add_operation("cat", lambda *args: "".join("" if item is None else _js_string(item) for item in args))


def evaluate(rule: Any, data: dict) -> Any:
    """Evaluate a (validated) rule. A rule that fails at run time raises ValueError."""
    try:
        return jsonLogic(rule, data)
    except Exception as exc:  # the library raises assorted errors on bad input
        raise ValueError(f"JSON Logic evaluation failed: {exc}") from exc


def is_visible(rule: Any, data: dict) -> bool:
    """A field without a rule is visible; a rule that cannot be evaluated leaves the field visible
    (the browser does the same), so required fields are never silently dropped."""
    if rule in (None, {}, ""):
        return True
    try:
        return truthy(evaluate(rule, data))
    except ValueError:
        logger.warning("visible_if rule failed to evaluate; treating the field as visible")
        return True
