"""Writes of secrets. Audit entries never hold a value (only that it changed)."""

from __future__ import annotations

from django.db import transaction

import audit
from audit.services import diff
from bifrost_site.api.errors import ConflictError
from secrets_app.models import Secret
from secrets_app.selectors import secret_references

AUDITED_FIELDS = ("name", "description", "organization_id")


def _snapshot(secret: Secret) -> dict:
    return {
        "name": secret.name,
        "description": secret.description,
        "organization_id": str(secret.organization_id) if secret.organization_id else None,
    }


@transaction.atomic
def secret_create(*, organization, name: str, value: str, description: str = "", created_by=None) -> Secret:
    org_id = getattr(organization, "pk", organization)
    if Secret.objects.filter(organization_id=org_id, name=name).exists():
        scope = "this organization" if org_id else "GLOBAL scope"
        raise ConflictError(f"A secret named '{name}' already exists in {scope}.", details={"name": name})
    secret = Secret(organization_id=org_id, name=name, value=value, description=description, created_by=created_by)
    secret.full_clean()
    secret.save()
    audit.record(
        action="secret.create",
        resource_type="secret",
        resource_id=secret.id,
        organization=org_id,
        changes={**diff(None, _snapshot(secret)), "value_changed": True},
    )
    return secret


@transaction.atomic
def secret_update(*, secret: Secret, value: str | None = None, description: str | None = None) -> Secret:
    before = _snapshot(secret)
    if description is not None:
        secret.description = description
    if value is not None:
        secret.value = value
    secret.full_clean()
    secret.save()
    audit.record(
        action="secret.update",
        resource_type="secret",
        resource_id=secret.id,
        organization=secret.organization_id,
        changes={**diff(before, _snapshot(secret)), "value_changed": value is not None},
    )
    return secret


@transaction.atomic
def secret_delete(*, secret: Secret) -> None:
    refs = secret_references(secret=secret)
    if refs["config_keys"] or refs["oauth_connections"]:
        parts = []
        if refs["config_keys"]:
            parts.append("config keys " + ", ".join(sorted({c["key"] for c in refs["config_keys"]})))
        if refs["oauth_connections"]:
            parts.append("OAuth connections " + ", ".join(sorted({c["name"] for c in refs["oauth_connections"]})))
        raise ConflictError(
            f"Secret '{secret.name}' is still referenced by {' and '.join(parts)}; remove those references first.",
            details={
                "config_keys": [
                    {"key": c["key"], "organization_id": str(c["organization_id"]) if c["organization_id"] else None}
                    for c in refs["config_keys"]
                ],
                "oauth_connections": [
                    {"name": c["name"], "organization_id": str(c["organization_id"]) if c["organization_id"] else None}
                    for c in refs["oauth_connections"]
                ],
            },
        )
    snapshot = _snapshot(secret)
    secret_id, org_id = secret.id, secret.organization_id
    secret.delete()
    audit.record(
        action="secret.delete",
        resource_type="secret",
        resource_id=secret_id,
        organization=org_id,
        changes=diff(snapshot, None),
    )
