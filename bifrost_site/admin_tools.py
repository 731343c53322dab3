"""Small helpers shared by the admin console's ModelAdmins (DESIGN §18)."""

from __future__ import annotations

import json
import re

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


CONSTRAINT_MESSAGE = re.compile(r"^Constraint “.+” is violated\.$")


class ExplainedConstraintsMixin:
    """For an admin ModelForm: a broken database rule reads as a sentence, never as a constraint's name.

    Django words a unique (organization, name) pair "Role with this Organization and Name already exists.";
    this says "Contoso already has a role named “Helpdesk”." (or "GLOBAL scope already has ..."). A check
    constraint without a field validator of its own would show "Constraint “<name>” is violated.": that
    becomes a plain sentence."""

    def full_clean(self):
        super().full_clean()
        errors = self.errors
        for field, messages in list(errors.as_data().items()):
            sentences = [self._sentence(error) for error in messages]
            if any(s is not None for s in sentences):
                errors[field] = self.error_class(
                    [s if s is not None else e for s, e in zip(sentences, messages, strict=True)]
                )

    def _sentence(self, error) -> str | None:
        text = " ".join(error.messages)
        if error.code == "unique_together" and "organization" in self.fields:
            named_by = next((f for f in ("name", "key") if f in self.fields), None)
            if named_by is not None:
                organization = self.cleaned_data.get("organization")
                scope = organization.name if organization is not None else "GLOBAL scope"
                what = self._meta.model._meta.verbose_name
                return f"{scope} already has a {what} named “{self.cleaned_data.get(named_by)}”; choose another name."
        if CONSTRAINT_MESSAGE.match(text):
            return "These values break one of the rules for this kind of record; check each field and try again."
        return None


class ReadOnlyAdminMixin:
    """A record the admin shows but never adds, changes or deletes (an audit entry, a decision, a stored
    version): those are written by the services that own them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
