"""Workflow parameter declarations and server-side validation/coercion of their input.

``coerce_parameters`` is what the web process runs before anything is queued. The web
process never imports workspace code, so it accepts parameter declarations either as
``ParamSpec`` objects or as the dicts stored in ``Workflow.parameters`` (``ParamSpec.to_dict``).

Decision on dates: ``date`` and ``datetime`` values are validated and normalised to ISO 8601
strings (``date.isoformat()`` / ``datetime.isoformat()``) and workflows receive those strings,
not ``date``/``datetime`` objects. That keeps ``Execution.parameters`` JSON-safe and makes a
re-run receive exactly what the first run received. Workflows call
``datetime.fromisoformat(value)`` when they need an object.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import keyword
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ParameterValidationError, WorkflowDefinitionError

__all__ = [
    "PARAM_TYPES",
    "REQUIRED_MESSAGE",
    "ParamSpec",
    "coerce_parameters",
    "coerce_value",
    "make_param_spec",
]

PARAM_TYPES = ("string", "int", "float", "bool", "email", "json", "list", "date", "datetime")
REQUIRED_MESSAGE = "This field is required."
UNKNOWN_MESSAGE = "Unknown parameter."

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROVIDER_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_INT_RE = re.compile(r"^[+-]?\d+$")
# Deliberately simple: one "@", no whitespace, a dotted domain whose labels are sane.
_EMAIL_RE = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_VALIDATION_KEYS = frozenset({"pattern", "min", "max", "message"})
# Which rules make sense for which type; declaring one that would be ignored is an error.
_PATTERN_TYPES = frozenset({"string", "email"})
_MIN_MAX_TYPES = frozenset({"string", "email", "int", "float", "list"})
_LENGTH_TYPES = frozenset({"string", "email", "list"})  # min/max bound the length


class _Invalid(Exception):
    """Internal: one field's value is invalid (message is user-facing)."""


class _Multi(_Invalid):
    """Internal: several rules failed for one field."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ParamSpec:
    """One declared workflow / data provider parameter. Build it with ``make_param_spec``."""

    name: str
    type: str = "string"
    label: str | None = None
    required: bool = False
    default_value: Any = None
    help_text: str | None = None
    validation: dict[str, Any] | None = None
    data_provider: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "required": self.required,
            "default_value": copy.deepcopy(self.default_value),
            "help_text": self.help_text,
            "validation": dict(self.validation) if self.validation else None,
            "data_provider": self.data_provider,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParamSpec:
        """Rebuild (and re-validate) a spec from ``to_dict`` output, e.g. read from the DB."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise WorkflowDefinitionError(f"Invalid parameter declaration: {data!r}")
        return make_param_spec(
            data["name"],
            type=data.get("type", "string"),
            label=data.get("label"),
            required=data.get("required", False),
            default_value=data.get("default_value"),
            help_text=data.get("help_text"),
            validation=data.get("validation"),
            data_provider=data.get("data_provider"),
        )


def _humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def make_param_spec(
    name: str,
    *,
    type: str = "string",  # mirrors the public @param signature
    label: str | None = None,
    required: bool = False,
    default_value: Any = None,
    help_text: str | None = None,
    validation: Mapping[str, Any] | None = None,
    data_provider: str | None = None,
) -> ParamSpec:
    """Validate a parameter declaration and return its ``ParamSpec``.

    Raises ``WorkflowDefinitionError`` naming the parameter and the bad argument. A default
    value is checked against the type and rules (and normalised, e.g. ``"5"`` -> ``5``).
    """

    def fail(msg: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(f"@param({name!r}): {msg}")

    if not isinstance(name, str) or not _NAME_RE.match(name) or keyword.iskeyword(name):
        raise WorkflowDefinitionError(f"@param name must be a valid Python identifier, got {name!r}")
    if name == "context":
        raise fail("'context' is reserved for the execution context")
    if type not in PARAM_TYPES:
        raise fail(f"type must be one of {', '.join(PARAM_TYPES)}; got {type!r}")
    if label is not None and not isinstance(label, str):
        raise fail(f"label must be a string, got {label!r}")
    if not isinstance(required, bool):
        raise fail(f"required must be True or False, got {required!r}")
    if help_text is not None and not isinstance(help_text, str):
        raise fail(f"help_text must be a string, got {help_text!r}")
    if data_provider is not None and (not isinstance(data_provider, str) or not _PROVIDER_NAME_RE.match(data_provider)):
        raise fail(f"data_provider must be a data provider name (^[a-z0-9_]+$), got {data_provider!r}")

    rules: dict[str, Any] | None = None
    if validation is not None:
        if not isinstance(validation, Mapping):
            raise fail(f"validation must be a dict, got {validation!r}")
        unknown = set(validation) - _VALIDATION_KEYS
        if unknown:
            raise fail(f"validation has unknown key(s) {sorted(unknown)}; allowed: pattern, min, max, message")
        rules = {k: v for k, v in validation.items() if v is not None}
        if "pattern" in rules:
            pattern = rules["pattern"]
            if type not in _PATTERN_TYPES:
                raise fail(f"validation 'pattern' only applies to string and email, not {type}")
            if not isinstance(pattern, str):
                raise fail(f"validation 'pattern' must be a string, got {pattern!r}")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise fail(f"validation 'pattern' does not compile: {exc}") from None
        for bound in ("min", "max"):
            if bound in rules:
                if type not in _MIN_MAX_TYPES:
                    raise fail(f"validation {bound!r} does not apply to type {type}")
                if not _is_number(rules[bound]):
                    raise fail(f"validation {bound!r} must be a number, got {rules[bound]!r}")
                if type in _LENGTH_TYPES and isinstance(rules[bound], float):
                    if not rules[bound].is_integer():
                        raise fail(f"validation {bound!r} is a length and must be a whole number")
                    rules[bound] = int(rules[bound])
        if "min" in rules and "max" in rules and rules["min"] > rules["max"]:
            raise fail(f"validation min ({rules['min']}) is greater than max ({rules['max']})")
        if "message" in rules and not isinstance(rules["message"], str):
            raise fail(f"validation 'message' must be a string, got {rules['message']!r}")
        rules = rules or None

    spec = ParamSpec(
        name=name,
        type=type,
        label=label if label is not None else _humanize(name),
        required=required,
        default_value=None,
        help_text=help_text,
        validation=rules,
        data_provider=data_provider,
    )
    if default_value is not None:
        try:
            normalised = _coerce_one(spec, copy.deepcopy(default_value))
        except _Invalid as exc:
            raise fail(f"default_value {default_value!r} is invalid: {exc}") from None
        spec = ParamSpec(**{**spec.__dict__, "default_value": normalised})
    return spec


# --------------------------------------------------------------------------- coercion


def _check_json_value(value: Any, depth: int = 0) -> None:
    if depth > 100:
        raise _Invalid("Value is nested too deeply.")
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("Enter a valid JSON value (NaN and Infinity are not allowed).")
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_json_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Invalid("Enter a valid JSON value (object keys must be strings).")
            _check_json_value(item, depth + 1)
        return
    raise _Invalid(f"Enter a valid JSON value (got {type(value).__name__}).")


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    raise _Invalid("Enter a valid string.")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("Enter a whole number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Invalid("Enter a whole number.")
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.match(text):
            try:
                return int(text)
            except ValueError:  # beyond the int string-conversion digit limit
                pass
    raise _Invalid("Enter a whole number.")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("Enter a number.")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise _Invalid("Enter a number.") from None
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise _Invalid("Enter a number.") from None
    else:
        raise _Invalid("Enter a number.")
    if not math.isfinite(result):
        raise _Invalid("Enter a finite number.")
    return result


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Invalid("Enter true or false.")


def _to_email(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("Enter a valid email address.")
    text = value.strip()
    if len(text) > 254 or not _EMAIL_RE.match(text):
        raise _Invalid("Enter a valid email address.")
    return text


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = _loads(value)
        except ValueError:
            raise _Invalid("Enter valid JSON.") from None
    _check_json_value(value)
    if isinstance(value, tuple):
        value = list(value)
    return value


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = _loads(text)
            except ValueError:
                raise _Invalid("Enter a valid list (a JSON array or comma-separated values).") from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, (list, tuple)):
        _check_json_value(value)
        return list(value)
    raise _Invalid("Enter a valid list (a JSON array or comma-separated values).")


def _to_date(value: Any) -> str:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        # date.fromisoformat also takes "20240101" and week dates; require the usual form.
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            try:
                return dt.date.fromisoformat(text).isoformat()
            except ValueError:
                pass
    raise _Invalid("Enter a valid date (YYYY-MM-DD).")


def _to_datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            try:
                return dt.datetime.fromisoformat(text).isoformat()
            except ValueError:
                pass
    raise _Invalid("Enter a valid date/time (ISO 8601, e.g. 2024-01-31T09:30:00+00:00).")


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "email": _to_email,
    "json": _to_json,
    "list": _to_list,
    "date": _to_date,
    "datetime": _to_datetime,
}


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _apply_rules(spec: ParamSpec, value: Any) -> list[str]:
    rules = spec.validation
    if not rules:
        return []
    problems: list[str] = []
    if spec.type in ("int", "float"):
        measured, unit = value, None
    elif spec.type == "list":
        measured, unit = len(value), "item"
    elif isinstance(value, str):
        measured, unit = len(value), "character"
    else:
        measured, unit = None, None
    if measured is not None:
        low, high = rules.get("min"), rules.get("max")
        if low is not None and measured < low:
            problems.append(
                f"Ensure this value is greater than or equal to {_fmt(low)}."
                if unit is None
                else f"Ensure this value has at least {_fmt(low)} {unit}{'' if low == 1 else 's'}."
            )
        if high is not None and measured > high:
            problems.append(
                f"Ensure this value is less than or equal to {_fmt(high)}."
                if unit is None
                else f"Ensure this value has at most {_fmt(high)} {unit}{'' if high == 1 else 's'}."
            )
    pattern = rules.get("pattern")
    # Anchored like the HTML ``pattern`` attribute, so browser and server agree.
    if pattern is not None and isinstance(value, str) and not re.fullmatch(pattern, value):
        problems.append("Enter a value in the required format.")
    if problems and rules.get("message"):
        return [rules["message"]]
    return problems


def _coerce_one(spec: ParamSpec, value: Any) -> Any:
    coerced = _COERCERS[spec.type](value)
    problems = _apply_rules(spec, coerced)
    if problems:
        raise _Multi(problems)
    return coerced


def _is_empty(spec: ParamSpec, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str) and value == "":
        return True
    return spec.type == "list" and isinstance(value, (list, tuple)) and len(value) == 0


def coerce_value(spec: ParamSpec, value: Any) -> Any:
    """Coerce and validate one present value; raises ``ParameterValidationError`` for it."""
    try:
        return _coerce_one(spec, value)
    except _Multi as exc:
        raise ParameterValidationError({spec.name: exc.messages}) from None
    except _Invalid as exc:
        raise ParameterValidationError({spec.name: [str(exc)]}) from None


def coerce_parameters(
    param_specs: Iterable[ParamSpec | Mapping[str, Any]],
    raw: Mapping[str, Any] | None,
    *,
    allow_unknown: bool = False,
) -> dict[str, Any]:
    """Validate and coerce raw input (JSON body, form data or query strings) against specs.

    Rules, per declared parameter:

    * missing means absent, ``None`` or ``""`` (and ``[]`` for ``list``); a missing parameter
      takes its ``default_value``; if it has none and is ``required`` the error is
      "This field is required."; otherwise it is left out of the result so the function's own
      default applies;
    * values are coerced per type (``"42"`` -> 42, ``"yes"`` -> True, ``"a,b"`` -> ["a", "b"],
      dates -> ISO strings, see module docstring) and then checked against ``validation``
      (``min``/``max`` bound numbers by value and strings/lists by length, ``pattern`` must
      match the whole string, ``message`` replaces the text of a failed rule).

    Keys that are not declared are errors ("Unknown parameter.") unless ``allow_unknown``, in
    which case they are passed through unchanged.

    Returns the coerced dict; raises ``ParameterValidationError`` listing every bad field.
    """
    specs = [s if isinstance(s, ParamSpec) else ParamSpec.from_dict(s) for s in param_specs]
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterValidationError({"non_field_errors": ["Parameters must be a JSON object."]})

    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {}
    declared = set()
    for spec in specs:
        declared.add(spec.name)
        value = raw.get(spec.name)
        if _is_empty(spec, value):
            if spec.default_value is not None:
                value = copy.deepcopy(spec.default_value)
            elif spec.required:
                errors[spec.name] = [REQUIRED_MESSAGE]
                continue
            else:
                continue
        try:
            result[spec.name] = _coerce_one(spec, value)
        except _Multi as exc:
            errors[spec.name] = list(exc.messages)
        except _Invalid as exc:
            errors[spec.name] = [str(exc)]

    for key in raw:
        if key in declared:
            continue
        if allow_unknown:
            result[key] = raw[key]
        else:
            errors[str(key)] = [UNKNOWN_MESSAGE]

    if errors:
        raise ParameterValidationError(errors)
    return result
