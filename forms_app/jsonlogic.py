"""JSON Logic for `visible_if` and data-provider `expression` inputs (DESIGN §5 form field).

The browser evaluates rules with json-logic-js 2.0.5 (vendored in static/forms_app/vendor/logic.js);
the server evaluates them with `apply` below, which follows json-logic-js line by line with
JavaScript's coercions, so that both decide every rule the same way (a field visible in the browser
is visible on the server). Only the allowed operators are accepted when a form is saved (`log` and
`method` are refused). `forms_app/tests/test_jsonlogic.py` runs a table of rules and generated
rules (Hypothesis, derandomized) through both engines to prove they agree.

Data is `{"field": {...}, "query": {...}, "workflow": {...}}`; `var` paths outside scoped
operators (some/all/none/map/filter/reduce, whose inner `var`s refer to the current item) must start
with one of those three roots.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

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


# --- Evaluation: json-logic-js 2.0.5 (the browser's engine, static/forms_app/vendor/logic.js), in Python.
#
# The server and the browser must decide every rule the same way, or a field is visible in one and
# hidden in the other. json-logic-qubit decides differently in its control flow (`if`, `and`, `or`
# and the scoped operators use Python truthiness, where `{}` is false, and replace a falsy data item
# by `{}`), and its public API lets none of those be replaced, so `apply` below follows
# json-logic-js's `apply` line by line, with JavaScript's coercions (ECMAScript 2015 §7.1, §7.2)
# for the values JSON can carry. `UNDEFINED` stands for a missing argument (JavaScript's undefined).


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


class _JSError(Exception):
    """Where json-logic-js throws (a TypeError in the browser)."""


_NUMBER_LITERAL = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_RADIX_LITERAL = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
# JavaScript's String.prototype.trim (and Number()) strip these, Python's str.strip a slightly different set.
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_primitive(value: Any) -> Any:
    """ToPrimitive for JSON values: an array becomes its join(","), an object "[object Object]"."""
    if isinstance(value, list):
        return ",".join("" if item is None or item is UNDEFINED else _js_string(item) for item in value)
    if isinstance(value, dict):
        if "toString" in value:  # an own, non-callable toString: the browser throws
            raise _JSError("Cannot convert object to primitive value")
        return "[object Object]"
    return value


def _number_string(value: float) -> str:
    """Number::toString (ECMAScript 2015 §7.1.12.1)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _number_string(-value)
    mantissa, _, exponent = repr(float(value)).partition("e")
    digits = mantissa.replace(".", "")
    point = mantissa.index(".") if "." in mantissa else len(mantissa)
    stripped = digits.lstrip("0")
    n = point + int(exponent or 0) - (len(digits) - len(stripped))
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    sign = "+" if n - 1 >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{head}e{sign}{abs(n - 1)}"


def _js_string(value: Any) -> str:
    """ToString."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_string(value)
    if isinstance(value, list | dict):
        return _to_primitive(value)
    return str(value)


def _string_number(text: str) -> float:
    text = text.strip(_JS_WHITESPACE)
    if text == "":
        return 0.0
    if _NUMBER_LITERAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    if _RADIX_LITERAL.fullmatch(text):
        return float(int(text, 0))
    return math.nan


def _js_number(value: Any) -> float:
    """ToNumber."""
    if value is UNDEFINED:
        return math.nan
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if _is_number(value):
        return float(value)
    if isinstance(value, list | dict):
        return _js_number(_to_primitive(value))
    return _string_number(str(value))


def _parse_float(value: Any) -> float:
    """parseFloat: the longest decimal literal at the start of the string (after white space)."""
    text = _js_string(value).lstrip(_JS_WHITESPACE)
    match = _NUMBER_LITERAL.match(text)
    return float(match.group().replace("Infinity", "inf")) if match else math.nan


def _result(number: float) -> Any:
    """A number as JSON would carry it from the browser: integral values as ints."""
    if math.isfinite(number) and number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


def _js_loose_equal(a: Any, b: Any) -> bool:
    """Abstract Equality Comparison (==)."""
    a_nullish, b_nullish = a is None or a is UNDEFINED, b is None or b is UNDEFINED
    if a_nullish or b_nullish:
        return a_nullish and b_nullish
    if isinstance(a, list | dict) and isinstance(b, list | dict):
        return a is b
    a, b = _to_primitive(a), _to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return _js_number(a) == _js_number(b)


def _js_strict_equal(a: Any, b: Any) -> bool:
    """Strict Equality Comparison (===)."""
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return a is b  # objects are equal only to themselves, as in JavaScript
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")  # JavaScript compares strings by UTF-16 code unit


def _js_less(a: Any, b: Any, *, or_equal: bool = False) -> bool:
    """Abstract Relational Comparison (< and <=); `undefined` compares false with everything."""
    a, b = _to_primitive(a), _to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return _utf16(a) <= _utf16(b) if or_equal else _utf16(a) < _utf16(b)
    x, y = _js_number(a), _js_number(b)
    return x <= y if or_equal else x < y  # False when either is NaN


def truthy(value: Any) -> bool:
    """json-logic-js's truthy: JavaScript truthiness, except that an empty array is false."""
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _js_in(a: Any, b: Any) -> bool:
    # `if (!b || typeof b.indexOf === "undefined") return false;`: a falsy haystack (including "")
    # holds nothing, and only strings and arrays have indexOf.
    if not truthy(b) and not isinstance(b, list):
        return False
    if isinstance(b, str):
        return _js_string(a) in b
    if isinstance(b, list):
        return any(_js_strict_equal(a, item) for item in b)
    if isinstance(b, dict) and "indexOf" in b:
        raise _JSError("b.indexOf is not a function")
    return False


def _to_integer(value: Any) -> float:
    number = _js_number(value)
    if math.isnan(number):
        return 0
    return number if math.isinf(number) else math.trunc(number)


def _substr(text: str, start: Any, length: Any = UNDEFINED) -> str:
    """String.prototype.substr."""
    size = len(text)
    begin = _to_integer(start)
    if begin < 0:
        begin = max(size + begin, 0)
    begin = min(begin, size)
    count = size if length is UNDEFINED else _to_integer(length)
    count = min(max(count, 0), size - begin)
    return "" if count <= 0 else text[int(begin) : int(begin + count)]


def _op_substr(source=UNDEFINED, start=UNDEFINED, end=UNDEFINED, *_):
    if _js_less(end, 0):
        temp = _substr(_js_string(source), start)
        return _substr(temp, 0, len(temp) + _js_number(end))
    return _substr(_js_string(source), start, end)


def _op_add(*args):
    total = 0.0
    for arg in args:
        total = total + _parse_float(arg)
    return _result(total)


def _op_multiply(*args):
    if not args:
        raise _JSError("Reduce of empty array with no initial value")
    product = args[0]  # reduce() without an initial value: one argument comes back as it is
    for arg in args[1:]:
        product = _result(_parse_float(product) * _parse_float(arg))
    return product


def _op_subtract(a=UNDEFINED, b=UNDEFINED, *_):
    if b is UNDEFINED:
        return _result(-_js_number(a))
    return _result(_js_number(a) - _js_number(b))


def _op_divide(a=UNDEFINED, b=UNDEFINED, *_):
    x, y = _js_number(a), _js_number(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1, y)
    return _result(x / y)


def _op_modulo(a=UNDEFINED, b=UNDEFINED, *_):
    x, y = _js_number(a), _js_number(b)
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or y == 0:
        return math.nan
    if math.isinf(y):
        return _result(x)
    return _result(math.fmod(x, y))


def _op_min(*args):
    numbers = [_js_number(arg) for arg in args]
    if any(math.isnan(n) for n in numbers):
        return math.nan
    return _result(min(numbers, default=math.inf))


def _op_max(*args):
    numbers = [_js_number(arg) for arg in args]
    if any(math.isnan(n) for n in numbers):
        return math.nan
    return _result(max(numbers, default=-math.inf))


def _op_merge(*args):
    merged: list = []
    for arg in args:
        if isinstance(arg, list):
            merged.extend(arg)
        else:
            merged.append(arg)
    return merged


def _op_cat(*args):
    return "".join("" if item is None or item is UNDEFINED else _js_string(item) for item in args)


def _property(container: Any, name: str) -> Any:
    """container[name] for JSON values (own data only; inherited members are not data)."""
    if isinstance(container, dict):
        return container.get(name, UNDEFINED)
    if isinstance(container, list | str):
        if name == "length":
            return len(container)
        if name.isdigit() and (name == "0" or not name.startswith("0")) and int(name) < len(container):
            return container[int(name)]
    return UNDEFINED


def _op_var(data, a=UNDEFINED, b=UNDEFINED, *_):
    not_found = None if b is UNDEFINED else b
    if a is UNDEFINED or a is None or a == "" and isinstance(a, str):
        return data
    for name in _js_string(a).split("."):
        if data is None or data is UNDEFINED:
            return not_found
        data = _property(data, name)
        if data is UNDEFINED:
            return not_found
    return data


def _op_missing(data, *args):
    keys = args[0] if args and isinstance(args[0], list) else args
    missing = []
    for key in keys:
        value = apply({"var": key}, data)
        if value is None or value == "" and isinstance(value, str):
            missing.append(key)
    return missing


def _op_missing_some(data, need_count=UNDEFINED, options=UNDEFINED, *_):
    are_missing = apply({"missing": options}, data)
    if options is None or options is UNDEFINED:
        raise _JSError("Cannot read properties of null (reading 'length')")
    length = len(options) if isinstance(options, list | str) else math.nan
    if _js_less(need_count, length - len(are_missing), or_equal=True):
        return []
    return are_missing


_OPERATIONS = {
    "==": lambda a=UNDEFINED, b=UNDEFINED, *_: _js_loose_equal(a, b),
    "===": lambda a=UNDEFINED, b=UNDEFINED, *_: _js_strict_equal(a, b),
    "!=": lambda a=UNDEFINED, b=UNDEFINED, *_: not _js_loose_equal(a, b),
    "!==": lambda a=UNDEFINED, b=UNDEFINED, *_: not _js_strict_equal(a, b),
    ">": lambda a=UNDEFINED, b=UNDEFINED, *_: _js_less(b, a),
    ">=": lambda a=UNDEFINED, b=UNDEFINED, *_: _js_less(b, a, or_equal=True),
    "<": lambda a=UNDEFINED, b=UNDEFINED, c=UNDEFINED, *_: _js_less(a, b) and (c is UNDEFINED or _js_less(b, c)),
    "<=": lambda a=UNDEFINED, b=UNDEFINED, c=UNDEFINED, *_: (
        _js_less(a, b, or_equal=True) and (c is UNDEFINED or _js_less(b, c, or_equal=True))
    ),
    "!!": lambda a=UNDEFINED, *_: truthy(a),
    "!": lambda a=UNDEFINED, *_: not truthy(a),
    "%": _op_modulo,
    "in": lambda a=UNDEFINED, b=UNDEFINED, *_: _js_in(a, b),
    "cat": _op_cat,
    "substr": _op_substr,
    "+": _op_add,
    "*": _op_multiply,
    "-": _op_subtract,
    "/": _op_divide,
    "min": _op_min,
    "max": _op_max,
    "merge": _op_merge,
}
_DATA_OPERATIONS = {"var": _op_var, "missing": _op_missing, "missing_some": _op_missing_some}


def _is_logic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1


def _at(values: list, index: int) -> Any:
    return values[index] if index < len(values) else UNDEFINED


def apply(logic: Any, data: Any) -> Any:
    """json-logic-js's `jsonLogic.apply`, for the operators in ALLOWED_OPERATORS."""
    if isinstance(logic, list):
        return [apply(item, data) for item in logic]
    if not _is_logic(logic):
        return logic
    ((op, values),) = logic.items()
    if not isinstance(values, list):
        values = [values]
    if op in ("if", "?:"):
        index = 0
        while index < len(values) - 1:
            if truthy(apply(values[index], data)):
                return apply(values[index + 1], data)
            index += 2
        return apply(values[index], data) if len(values) == index + 1 else None
    if op in ("and", "or"):
        current = UNDEFINED
        for value in values:
            current = apply(value, data)
            if truthy(current) == (op == "or"):
                return current
        return current
    if op in SCOPED_OPERATORS:
        return _scoped(op, values, data)
    values = [apply(value, data) for value in values]
    if op in _DATA_OPERATIONS:
        return _DATA_OPERATIONS[op](data, *values)
    if op in _OPERATIONS and op in ALLOWED_OPERATORS:
        return _OPERATIONS[op](*values)
    raise _JSError(f"Unrecognized operation {op}")


def _scoped(op: str, values: list, data: Any) -> Any:
    scoped_data = apply(_at(values, 0), data)
    scoped_logic = _at(values, 1)
    if op == "reduce":
        initial = apply(values[2], data) if len(values) > 2 and values[2] is not UNDEFINED else None
        if not isinstance(scoped_data, list):
            return initial
        accumulator = initial
        for current in scoped_data:
            accumulator = apply(scoped_logic, {"current": current, "accumulator": accumulator})
        return accumulator
    if op in ("filter", "map"):
        if not isinstance(scoped_data, list):
            return []
        if op == "map":
            return [apply(scoped_logic, item) for item in scoped_data]
        return [item for item in scoped_data if truthy(apply(scoped_logic, item))]
    if not isinstance(scoped_data, list) or not scoped_data:
        return op == "none"
    for item in scoped_data:
        decided = truthy(apply(scoped_logic, item))
        if op == "all" and not decided:
            return False
        if op in ("some", "none") and decided:
            return op == "some"
    return op != "some"


def _json(value: Any) -> Any:
    """A result as the browser would send it (JSON.stringify): undefined, NaN and ±Infinity become null."""
    if value is UNDEFINED or isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items() if item is not UNDEFINED}
    return value


def _apply(rule: Any, data: dict) -> Any:
    try:
        return apply(rule, data)
    except (_JSError, RecursionError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"JSON Logic evaluation failed: {exc}") from exc


def evaluate(rule: Any, data: dict) -> Any:
    """Evaluate a (validated) rule as the browser does; the value as JSON carries it.

    A rule that fails at run time raises ValueError (where json-logic-js throws)."""
    return _json(_apply(rule, data))


def is_visible(rule: Any, data: dict) -> bool:
    """A field without a rule is visible; a rule that cannot be evaluated leaves the field visible
    (the browser does the same), so required fields are never silently dropped."""
    if rule in (None, {}, ""):
        return True
    try:
        return truthy(_apply(rule, data))
    except ValueError:
        logger.warning("visible_if rule failed to evaluate; treating the field as visible")
        return True
