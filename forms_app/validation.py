"""Form schema validation (DESIGN §5 form field), run on every write: API, import and admin.

`form_definition_errors()` returns `{path: [messages]}` with paths such as
`schema.fields[3].options`, so a 400 names exactly what is wrong. The workflow registry is read
through a small lookup object so the rules can be exercised without a database.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Protocol

from forms_app import jsonlogic
from forms_app.models import FIELD_TYPES, MAX_FORM_FIELDS

FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
OPTION_TYPES = frozenset({"select", "radio", "multi_select"})
DISPLAY_TYPES = frozenset({"markdown", "html"})
INPUT_MODES = ("static", "field_ref", "expression")
MAX_UPLOAD_MB = 100
DEFAULT_MAX_SIZE_MB = 10
FIELD_KEYS = frozenset(
    {
        "name",
        "label",
        "type",
        "required",
        "validation",
        "options",
        "data_provider",
        "data_provider_inputs",
        "default_value",
        "placeholder",
        "help_text",
        "visible_if",
        "allowed_types",
        "multiple",
        "max_size_mb",
        "content",
        "allow_as_query_param",
    }
)
VALIDATION_KEYS = frozenset({"pattern", "min", "max", "message"})


class Registry(Protocol):
    def workflow_parameters(self, name: str) -> list[dict] | None: ...

    def provider_parameters(self, name: str) -> list[dict] | None: ...


class DatabaseRegistry:
    """Reads the Workflow / DataProvider rows discovery writes (one query per kind)."""

    def __init__(self) -> None:
        self._workflows: dict[str, list[dict]] | None = None
        self._providers: dict[str, list[dict]] | None = None

    def workflow_parameters(self, name: str) -> list[dict] | None:
        from workflows.models import Workflow

        if self._workflows is None:
            self._workflows = dict(Workflow.objects.values_list("name", "parameters"))
        params = self._workflows.get(name)
        return None if params is None else list(params or [])

    def provider_parameters(self, name: str) -> list[dict] | None:
        from workflows.models import DataProvider

        if self._providers is None:
            self._providers = dict(DataProvider.objects.values_list("name", "parameters"))
        params = self._providers.get(name)
        return None if params is None else list(params or [])


def required_parameter_names(params: list[dict]) -> list[str]:
    return [
        p["name"]
        for p in params
        if isinstance(p, dict) and p.get("required") and p.get("default_value") in (None, "", [])
    ]


def query_param_names(*, schema: dict, allowed_query_params: list) -> set[str]:
    """Names a form accepts from the page URL: `allowed_query_params` plus fields flagged
    `allow_as_query_param`."""
    names = {str(n) for n in (allowed_query_params or []) if isinstance(n, str)}
    for item in (schema or {}).get("fields", []) or []:
        if isinstance(item, dict) and item.get("allow_as_query_param") and isinstance(item.get("name"), str):
            names.add(item["name"])
    return names


def form_definition_errors(
    *,
    schema: Any,
    workflow: Any,
    launch_workflow: Any = "",
    default_launch_params: Any = None,
    allowed_query_params: Any = None,
    registry: Registry | None = None,
) -> dict[str, list[str]]:
    registry = registry or DatabaseRegistry()
    errors: dict[str, list[str]] = defaultdict(list)

    if not isinstance(workflow, str) or not workflow.strip():
        errors["workflow"].append("Name the workflow a submission runs.")
    elif registry.workflow_parameters(workflow) is None:
        errors["workflow"].append(f"Workflow '{workflow}' does not exist.")

    if default_launch_params is None:
        default_launch_params = {}
    if not isinstance(default_launch_params, dict):
        errors["default_launch_params"].append("Must be an object of parameter values.")
        default_launch_params = {}
    if allowed_query_params is None:
        allowed_query_params = []
    if not isinstance(allowed_query_params, list) or not all(
        isinstance(n, str) and FIELD_NAME_RE.match(n) for n in allowed_query_params
    ):
        errors["allowed_query_params"].append("Must be a list of parameter names.")
        allowed_query_params = []

    fields = _check_schema(schema, errors, registry)

    if launch_workflow not in (None, ""):
        if not isinstance(launch_workflow, str):
            errors["launch_workflow"].append("Must be a workflow name.")
        else:
            params = registry.workflow_parameters(launch_workflow)
            if params is None:
                errors["launch_workflow"].append(f"Workflow '{launch_workflow}' does not exist.")
            else:
                covered = set(default_launch_params) | query_param_names(
                    schema={"fields": fields}, allowed_query_params=allowed_query_params
                )
                for name in required_parameter_names(params):
                    if name not in covered:
                        errors["default_launch_params"].append(
                            f"Launch workflow '{launch_workflow}' requires '{name}': give it a default here "
                            "or allow it as a query parameter."
                        )
    return dict(errors)


def _check_schema(schema: Any, errors: dict, registry: Registry) -> list[dict]:
    if not isinstance(schema, dict):
        errors["schema"].append('Must be an object: {"fields": [...]}.')
        return []
    unknown = set(schema) - {"fields"}
    if unknown:
        errors["schema"].append(f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
    fields = schema.get("fields")
    if not isinstance(fields, list):
        errors["schema.fields"].append("Must be a list of fields.")
        return []
    if len(fields) > MAX_FORM_FIELDS:
        errors["schema.fields"].append(f"A form has at most {MAX_FORM_FIELDS} fields ({len(fields)} given).")
    names = [f.get("name") for f in fields if isinstance(f, dict)]
    seen: set[str] = set()
    for index, item in enumerate(fields):
        _check_field(index, item, names, seen, errors, registry)
    return [f for f in fields if isinstance(f, dict)]


def _check_field(index: int, item: Any, all_names: list, seen: set, errors: dict, registry: Registry) -> None:
    base = f"schema.fields[{index}]"

    def err(key: str, message: str) -> None:
        errors[f"{base}.{key}" if key else base].append(message)

    if not isinstance(item, dict):
        err("", "Each field must be an object.")
        return
    unknown = set(item) - FIELD_KEYS
    if unknown:
        err("", f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
    name = item.get("name")
    if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
        err("name", "Use letters, digits and underscores, starting with a letter or underscore (at most 100).")
    elif name in seen:
        err("name", f"Duplicate field name '{name}'.")
    else:
        seen.add(name)
    ftype = item.get("type")
    if ftype not in FIELD_TYPES:
        err("type", f"Unknown field type {ftype!r}; use one of: {', '.join(FIELD_TYPES)}.")
    for key in ("label", "placeholder", "help_text"):
        if key in item and item[key] is not None and not isinstance(item[key], str):
            err(key, "Must be text.")
    for key in ("required", "multiple", "allow_as_query_param"):
        if key in item and not isinstance(item[key], bool):
            err(key, "Must be true or false.")

    if ftype in DISPLAY_TYPES:
        if not isinstance(item.get("content"), str) or not item["content"].strip():
            err("content", f"A {ftype} field needs its content.")
    elif "content" in item:
        err("content", "Only markdown and html fields have content.")

    provider = item.get("data_provider")
    if ftype in OPTION_TYPES:
        options = item.get("options")
        if provider in (None, "") and options is None:
            err("options", f"A {ftype} field needs options (or a data_provider).")
        if options is not None:
            _check_options(options, err)
    elif "options" in item:
        err("options", "Only select, radio and multi_select fields have options.")

    if provider not in (None, ""):
        if ftype not in OPTION_TYPES:
            err("data_provider", "Only select, radio and multi_select fields take a data provider.")
        elif not isinstance(provider, str):
            err("data_provider", "Must be a data provider name.")
        else:
            params = registry.provider_parameters(provider)
            if params is None:
                err("data_provider", f"Data provider '{provider}' does not exist.")
            else:
                _check_provider_inputs(item.get("data_provider_inputs"), params, provider, name, all_names, err)
    elif item.get("data_provider_inputs"):
        err("data_provider_inputs", "Inputs need a data_provider.")

    _check_validation(item.get("validation"), ftype, err)

    if "visible_if" in item and item["visible_if"] not in (None, {}):
        if not isinstance(item["visible_if"], dict | bool):
            err("visible_if", "Must be a JSON Logic rule (an object).")
        else:
            for message in jsonlogic.rule_errors(item["visible_if"]):
                err("visible_if", message)

    if ftype == "file":
        allowed = item.get("allowed_types")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(t, str) and t.strip() for t in allowed)
        ):
            err("allowed_types", 'A list of MIME types ("image/png", "image/*") or extensions (".pdf").')
        size = item.get("max_size_mb")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int | float) or not 0 < size <= MAX_UPLOAD_MB
        ):
            err("max_size_mb", f"A number of megabytes between 0 and {MAX_UPLOAD_MB}.")
    else:
        for key in ("allowed_types", "max_size_mb"):
            if key in item:
                err(key, "Only file fields take this.")


def _check_options(options: Any, err) -> None:
    if not isinstance(options, list) or not options:
        err("options", "A non-empty list of {label, value}.")
        return
    values = []
    for position, option in enumerate(options):
        if not isinstance(option, dict) or "value" not in option or "label" not in option:
            err("options", f"Option {position} must be an object with label and value.")
            continue
        if not isinstance(option["value"], str | int | float | bool):
            err("options", f"Option {position}: the value must be text, a number or a boolean.")
        values.append(option["value"])
    if len({repr(v) for v in values}) != len(values):
        err("options", "Option values must be unique.")


def _check_provider_inputs(inputs: Any, params: list[dict], provider: str, name: Any, all_names: list, err) -> None:
    inputs = inputs or {}
    if not isinstance(inputs, dict):
        err("data_provider_inputs", "An object: {param: {mode, value|field|expression}}.")
        return
    declared = {p.get("name") for p in params if isinstance(p, dict)}
    for param, spec in inputs.items():
        key = f"data_provider_inputs.{param}"
        if param not in declared:
            err(key, f"Data provider '{provider}' has no parameter '{param}'.")
            continue
        if not isinstance(spec, dict) or spec.get("mode") not in INPUT_MODES:
            err(key, f"Give a mode: one of {', '.join(INPUT_MODES)}.")
            continue
        mode = spec["mode"]
        if mode == "static" and "value" not in spec:
            err(key, "A static input needs a value.")
        elif mode == "field_ref":
            ref = spec.get("field")
            if not isinstance(ref, str) or ref not in all_names:
                err(key, f"field_ref must name a field of this form ({ref!r} is not one).")
            elif ref == name:
                err(key, "A field cannot feed its own data provider.")
        elif mode == "expression":
            if "expression" not in spec:
                err(key, "An expression input needs an expression (a JSON Logic rule).")
            else:
                for message in jsonlogic.rule_errors(spec["expression"]):
                    err(key, message)
    for required in required_parameter_names(params):
        if required not in inputs:
            err("data_provider_inputs", f"Data provider '{provider}' requires input '{required}'.")


def _check_validation(validation: Any, ftype: Any, err) -> None:
    if validation in (None, {}):
        return
    if not isinstance(validation, dict):
        err("validation", "An object with pattern, min, max and message.")
        return
    unknown = set(validation) - VALIDATION_KEYS
    if unknown:
        err("validation", f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
    pattern = validation.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            err("validation.pattern", "Must be a regular expression.")
        else:
            try:
                re.compile(pattern)
            except re.error as exc:
                err("validation.pattern", f"Not a valid regular expression: {exc}.")
    for bound in ("min", "max"):
        value = validation.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            err(f"validation.{bound}", "Must be a number.")
    low, high = validation.get("min"), validation.get("max")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        err("validation", "min is greater than max.")
    if "message" in validation and not isinstance(validation["message"], str):
        err("validation.message", "Must be text.")
