"""Server-side validation of a form submission (mirrored by static/forms_app/form.js).

Fields hidden by `visible_if` are ignored (not required, not passed on); markdown/html fields are
display-only. Visibility is evaluated over the values as posted, the same data the browser used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from forms_app import jsonlogic
from forms_app.validation import DISPLAY_TYPES

REQUIRED = "This field is required."
EMAIL_RE = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})
TEXT_TYPES = frozenset({"text", "textarea", "email"})


class SubmissionInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("The submission is invalid.")
        self.errors = errors


class _Bad(Exception):
    pass


def logic_data(*, form_data: dict, query: dict, workflow: Any) -> dict:
    return {"field": form_data or {}, "query": query or {}, "workflow": workflow if workflow is not None else {}}


def visible_fields(fields: list[dict], data: dict) -> list[dict]:
    return [f for f in fields if jsonlogic.is_visible(f.get("visible_if"), data)]


def is_missing(value: Any) -> bool:
    return value is None or value == "" or value == []


def clean_submission(
    *,
    fields: list[dict],
    form_data: Any,
    query: dict | None = None,
    workflow: Any = None,
    provider_values: Callable[[dict], list | None] | None = None,
    resolve_uploads: Callable[[dict, list], list[dict]] | None = None,
) -> dict:
    """Validate and coerce `form_data`; return {field name: clean value} for visible input fields.

    `provider_values(field)` returns the allowed values of a data-provider field;
    `resolve_uploads(field, ids)` turns upload ids into file descriptions (raising ValueError for
    ids that are not this form's uploads). Raises SubmissionInvalid({name: [messages]})."""
    if not isinstance(form_data, dict):
        raise SubmissionInvalid({"form_data": ["Must be an object of field values."]})
    data = logic_data(form_data=form_data, query=query or {}, workflow=workflow)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for item in visible_fields(fields, data):
        ftype = item.get("type")
        if ftype in DISPLAY_TYPES:
            continue
        name = item["name"]
        raw = form_data.get(name)
        try:
            value = _clean_value(item, raw, provider_values, resolve_uploads)
        except _Bad as exc:
            errors[name] = [str(exc)]
            continue
        if value is not _OMIT:
            cleaned[name] = value
    if errors:
        raise SubmissionInvalid(errors)
    return cleaned


_OMIT = object()


def _clean_value(item: dict, raw: Any, provider_values, resolve_uploads) -> Any:
    ftype = item.get("type")
    required = bool(item.get("required"))
    rules = item.get("validation") or {}
    message = rules.get("message")

    if ftype == "checkbox":
        value = _to_bool(raw)
        if required and value is not True:
            raise _Bad(REQUIRED)
        return value
    if is_missing(raw):
        if required:
            raise _Bad(REQUIRED)
        return [] if ftype in ("multi_select", "file") else _OMIT

    if ftype in TEXT_TYPES:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise _Bad("Enter text.")
        value = str(raw)
        if ftype == "email":
            value = value.strip()
            if not EMAIL_RE.match(value):
                raise _Bad("Enter a valid email address.")
        _check_pattern(value, rules, message)
        _check_bounds(len(value), rules, message, unit="characters")
        return value
    if ftype == "number":
        value = _to_number(raw)
        _check_bounds(value, rules, message, unit=None)
        return value
    if ftype == "date":
        try:
            return dt.date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise _Bad("Enter a valid date (YYYY-MM-DD).") from None
    if ftype == "datetime":
        try:
            text = str(raw)
            return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text).isoformat()
        except ValueError:
            raise _Bad("Enter a valid date and time (YYYY-MM-DDTHH:MM).") from None
    if ftype in ("select", "radio"):
        if isinstance(raw, list | dict):
            raise _Bad("Choose one option.")
        return _choose(item, raw, provider_values)
    if ftype == "multi_select":
        values = raw if isinstance(raw, list) else [raw]
        chosen = [_choose(item, v, provider_values) for v in values]
        _check_bounds(len(chosen), rules, message, unit="choices")
        return chosen
    if ftype == "file":
        ids = raw if isinstance(raw, list) else [raw]
        if not item.get("multiple") and len(ids) > 1:
            raise _Bad("Only one file is allowed.")
        if resolve_uploads is None:
            raise _Bad("Uploads are not available.")
        try:
            return resolve_uploads(item, ids)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
    raise _Bad("Unsupported field type.")


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise _Bad("Must be true or false.")


def _to_number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise _Bad("Enter a number.")
    if isinstance(raw, int | float):
        value = raw
    else:
        try:
            text = str(raw).strip()
            value = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise _Bad("Enter a number.") from None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise _Bad("Enter a number.")
    return value


def _check_pattern(value: str, rules: dict, message: str | None) -> None:
    pattern = rules.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise _Bad(message or "Enter a value in the expected format.")


def _check_bounds(value, rules: dict, message: str | None, *, unit: str | None) -> None:
    low, high = rules.get("min"), rules.get("max")
    suffix = f" {unit}" if unit else ""
    if low is not None and value < low:
        raise _Bad(message or f"Must be at least {low}{suffix}.")
    if high is not None and value > high:
        raise _Bad(message or f"Must be at most {high}{suffix}.")


def _choose(item: dict, raw: Any, provider_values) -> Any:
    if item.get("data_provider"):
        allowed = provider_values(item) if provider_values else None
        allowed = allowed or []
    else:
        allowed = [o.get("value") for o in item.get("options") or [] if isinstance(o, dict)]
    for candidate in allowed:
        if candidate == raw and type(candidate) is type(raw):
            return candidate
    for candidate in allowed:  # "1" from an HTML select matches the option value 1
        if not isinstance(candidate, list | dict) and str(candidate) == str(raw):
            return candidate
    raise _Bad(f"{raw!r} is not one of the available choices.")
