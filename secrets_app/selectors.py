"""Reads of secrets (DESIGN §8). Values leave this module only through `secret_value`."""

from __future__ import annotations

import uuid

from django.db.models import F, Q

from bifrost_site.crypto import UndecryptableValue
from secrets_app.models import Secret


class SecretNotFound(LookupError):
    """No secret of that name in the organization or GLOBAL."""


class SecretUndecryptable(RuntimeError):
    """The stored value cannot be decrypted with any configured ENCRYPTION_KEYS entry."""


def _scope_label(organization_id) -> str:
    return f"organization {organization_id}" if organization_id else "GLOBAL scope"


def secret_for_name(*, organization_id: uuid.UUID | str | None, name: str) -> Secret | None:
    """The row that applies in a scope: the organization's, else the GLOBAL one."""
    condition = Q(organization__isnull=True)
    if organization_id:
        condition |= Q(organization_id=organization_id)
    return Secret.objects.filter(condition, name=name).order_by(F("organization").asc(nulls_last=True)).first()


def secret_value(*, organization_id: uuid.UUID | str | None, name: str) -> str:
    """The plaintext value of a secret for an organization (its own row, else GLOBAL).

    Raises SecretNotFound when neither exists and SecretUndecryptable when the row's value was
    encrypted with a key that is no longer in ENCRYPTION_KEYS.
    """
    secret = secret_for_name(organization_id=organization_id, name=name)
    if secret is None:
        where = f"{_scope_label(organization_id)} or GLOBAL" if organization_id else "GLOBAL scope"
        raise SecretNotFound(f"Secret '{name}' was not found in {where}.")
    if isinstance(secret.value, UndecryptableValue):
        owner = _scope_label(secret.organization_id)
        raise SecretUndecryptable(
            f"Secret '{name}' (id {secret.id}, {owner}) cannot be decrypted with the configured "
            "ENCRYPTION_KEYS; restore the key it was encrypted with or set a new value."
        )
    return str(secret.value)


def secret_references(*, secret: Secret) -> dict[str, list[dict]]:
    """What still uses a secret by name, so deleting it would break them.

    - Config entries of type `secret_ref` whose value is the name, in the secret's organization
      or GLOBAL (a GLOBAL entry resolves to the organization's secret inside that organization).
      For a GLOBAL secret: GLOBAL entries and the entries of organizations without their own
      secret of that name.
    - OAuth connections whose `extra_token_params` hold `{"secret_ref": name}` and that resolve to
      this row: connections of the same organization, and for a GLOBAL secret, GLOBAL connections
      and those of organizations without their own secret of that name.
    """
    from oauth_app.models import OAuthConnection
    from orgs.models import Config, ConfigType

    name = secret.name
    if secret.organization_id is not None:
        config_scope = Q(organization_id=secret.organization_id) | Q(organization__isnull=True)
        connection_scope = Q(organization_id=secret.organization_id)
    else:
        shadowing_orgs = Secret.objects.filter(name=name, organization__isnull=False).values("organization_id")
        config_scope = Q(organization__isnull=True) | ~Q(organization_id__in=shadowing_orgs)
        connection_scope = config_scope

    configs = (
        Config.objects.filter(config_scope, config_type=ConfigType.SECRET_REF, value=name)
        .order_by("key")
        .values("id", "key", "organization_id")
    )
    connections = [
        {"id": c.id, "name": c.name, "organization_id": c.organization_id}
        for c in OAuthConnection.objects.filter(connection_scope).only(
            "id", "name", "organization", "extra_token_params"
        )
        if name in secret_refs_in(c.extra_token_params)
    ]
    return {"config_keys": list(configs), "oauth_connections": connections}


def secret_refs_in(params) -> set[str]:
    """Secret names referenced by `{"secret_ref": name}` values of an OAuth connection's params."""
    names: set[str] = set()
    if isinstance(params, dict):
        for value in params.values():
            if isinstance(value, dict) and isinstance(value.get("secret_ref"), str):
                names.add(value["secret_ref"])
    return names
