"""Small helpers shared by the admin console's ModelAdmins (DESIGN §18)."""

from __future__ import annotations

import json

from django import forms


def api_message(exc) -> str:
    """A sentence from a service's APIException (ApplicationError, DRF ValidationError, NotFound, ...):
    `{field: [messages]}` becomes "field: message; ...", a list its messages joined."""
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(
            f"{key}: {' '.join(map(str, value)) if isinstance(value, list) else value}" for key, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(map(str, detail))
    return str(detail if detail is not None else exc)


class JSONEditorField(forms.JSONField):
    """A JSON value in a textarea, indented for reading; no value is an empty box, never the text `null`."""

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, str | forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)
