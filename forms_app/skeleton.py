"""A form schema started from a workflow's parameters (the admin's "Start from the workflow's parameters",
issue 21 item 5): one field per parameter, of the input type that collects that parameter's type, with its
label, required flag, default, help text and the rules a form field can carry. An admin edits it from
there; the result passes forms_app.validation."""

from __future__ import annotations

from typing import Any

# Workflow parameter type (bifrost.params.PARAM_TYPES) → form field type.
FIELD_TYPES = {
    "string": "text",
    "email": "email",
    "int": "number",
    "float": "number",
    "bool": "checkbox",
    "json": "textarea",
    "list": "textarea",
    "date": "date",
    "datetime": "datetime",
}
RULES = ("pattern", "min", "max", "message")


def _label(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name


def field_for_parameter(parameter: dict) -> dict[str, Any]:
    name = parameter["name"]
    kind = FIELD_TYPES.get(parameter.get("type") or "string", "text")
    field: dict[str, Any] = {"name": name, "label": parameter.get("label") or _label(name), "type": kind}
    if parameter.get("data_provider"):
        field["type"] = "select"
        field["data_provider"] = parameter["data_provider"]
    field["required"] = bool(parameter.get("required"))
    if parameter.get("default_value") is not None:
        field["default_value"] = parameter["default_value"]
    if parameter.get("help_text"):
        field["help_text"] = parameter["help_text"]
    rules = {key: value for key, value in (parameter.get("validation") or {}).items() if key in RULES}
    if field["type"] in ("text", "email") and "pattern" in rules:
        field["validation"] = {key: rules[key] for key in ("pattern", "message") if key in rules}
    elif field["type"] == "number" and ("min" in rules or "max" in rules):
        field["validation"] = {key: rules[key] for key in ("min", "max", "message") if key in rules}
    return field


def schema_from_parameters(parameters: list[dict]) -> dict[str, list[dict]]:
    return {"fields": [field_for_parameter(p) for p in parameters or [] if isinstance(p, dict) and p.get("name")]}
