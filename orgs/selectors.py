"""Reads for organizations and config. `config_resolve` is what the workflow SDK calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q

from orgs.models import Config, ConfigType


class ConfigNotFound(KeyError):
    """No config entry with that key in the organization nor GLOBAL."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(key)

    def __str__(self) -> str:
        return f"Config key '{self.key}' not found (neither in the organization nor GLOBAL)."


class ConfigValueError(ValueError):
    """A stored value does not match its config_type (only possible through raw writes)."""


@dataclass(frozen=True)
class EffectiveConfig:
    key: str
    value: Any
    config_type: str
    source: str  # "organization" | "global"
    entry: Config


def config_entry_lookup(*, organization_id, key: str) -> Config | None:
    """The organization's row for `key`, else the GLOBAL row, else None."""
    scope = Q(organization__isnull=True)
    if organization_id is not None:
        scope |= Q(organization_id=organization_id)
    return Config.objects.filter(scope, key=key).order_by(F("organization").asc(nulls_last=True)).first()


def parse_config_value(config_type: str, value: Any) -> Any:
    """Coerce a stored or submitted value to its type; raises ConfigValueError naming the problem.

    string → str; int → int (an integer or an integer string; booleans are refused);
    bool → bool (true/false, also "true"/"false"/"1"/"0"/"yes"/"no"); json → any JSON value;
    secret_ref → the secret's name (a non-empty string).
    """
    if config_type == ConfigType.STRING:
        if not isinstance(value, str):
            raise ConfigValueError("A string is expected.")
        return value
    if config_type == ConfigType.INT:
        if isinstance(value, bool):
            raise ConfigValueError("An integer is expected, not a boolean.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigValueError(f"An integer is expected; got {value!r}.")
    if config_type == ConfigType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigValueError(f"A boolean (true or false) is expected; got {value!r}.")
    if config_type == ConfigType.JSON:
        return value
    if config_type == ConfigType.SECRET_REF:
        if not isinstance(value, str) or not value.strip():
            raise ConfigValueError("The name of a secret is expected.")
        return value.strip()
    raise ConfigValueError(f"Unknown config_type '{config_type}'.")


def config_effective(*, organization_id, key: str) -> EffectiveConfig:
    """The entry that applies in an organization (or GLOBAL when organization_id is None), parsed
    but with secret references left as the secret's name. Raises ConfigNotFound."""
    entry = config_entry_lookup(organization_id=organization_id, key=key)
    if entry is None:
        raise ConfigNotFound(key)
    return EffectiveConfig(
        key=entry.key,
        value=parse_config_value(entry.config_type, entry.value),
        config_type=entry.config_type,
        source="global" if entry.organization_id is None else "organization",
        entry=entry,
    )


def config_resolve(*, organization_id, key: str) -> Any:
    """The typed value of `key` for an organization: its own row, else the GLOBAL one.

    A `secret_ref` resolves to the referenced secret's value (organization first, then GLOBAL),
    so this is for server-side code only (the workflow SDK), never for an API answer.
    Raises ConfigNotFound (a KeyError) and secrets_app.selectors.SecretNotFound.
    """
    effective = config_effective(organization_id=organization_id, key=key)
    if effective.config_type == ConfigType.SECRET_REF:
        from secrets_app.selectors import secret_value

        return secret_value(organization_id=organization_id, name=effective.value)
    return effective.value
