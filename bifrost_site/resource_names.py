"""The name of an audit entry's resource, read in bulk (the admin's audit list, issue 21 item 7).

An entry records `resource_type` and `resource_id` (a primary key, or the name itself for a workflow and
a schedule's workflow). Names are read once per page, one query per resource type on it, and an
entry whose resource is gone keeps its bare id. `resource_ids_named` turns a search term into the ids
of the resources whose name matches, so the audit list is searchable by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps
from django.core.exceptions import ValidationError

# resource_type → (model, the field that names it). A type not listed here shows its id alone.
NAMED_RESOURCES = {
    "organization": ("orgs.Organization", "name"),
    "user": ("accounts.User", "email"),
    "role": ("accounts.Role", "name"),
    "config": ("orgs.Config", "key"),
    "secret": ("secrets_app.Secret", "name"),
    "oauth_connection": ("oauth_app.OAuthConnection", "name"),
    "form": ("forms_app.Form", "name"),
    "form_upload": ("forms_app.FormUpload", "original_name"),
    "execution": ("executions.Execution", "workflow_name"),
    "approval": ("approvals.Approval", "workflow_name"),
    "workflow_key": ("workflows.WorkflowKey", "description"),
}
# Matches per resource type that a name search looks at.
SEARCH_LIMIT = 500


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:  # an app that is not installed
        return None


def _valid_pks(model, ids: Iterable[str]) -> list:
    valid = []
    for value in ids:
        try:
            valid.append(model._meta.pk.to_python(value))
        except (ValidationError, ValueError, TypeError):
            continue
    return valid


def resource_names(entries: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(resource_type, resource_id): name} for the entries whose resource still exists."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for resource_type, resource_id in entries:
        if resource_type in NAMED_RESOURCES and resource_id:
            by_type[resource_type].add(str(resource_id))
    names = {}
    for resource_type, ids in by_type.items():
        label, field = NAMED_RESOURCES[resource_type]
        model = _model(label)
        pks = _valid_pks(model, ids) if model is not None else []
        if not pks:
            continue
        for pk, name in model._default_manager.filter(pk__in=pks).values_list("pk", field):
            names[(resource_type, str(pk))] = name
    return names


def resource_ids_named(term: str) -> list[str]:
    """The ids (as audit entries record them) of the resources whose name contains `term`."""
    ids: list[str] = []
    for label, field in NAMED_RESOURCES.values():
        model = _model(label)
        if model is None:
            continue
        matches = model._default_manager.filter(**{f"{field}__icontains": term}).values_list("pk", flat=True)
        ids += [str(pk) for pk in matches[:SEARCH_LIMIT]]
    return ids
