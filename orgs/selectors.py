"""Reads for organizations and config.

Minimal version written for the workflow engine (issue 4); the config owner (issue 3) provides
the full module with the same `config_resolve` signature.
"""

from __future__ import annotations

from typing import Any

from orgs.models import Config, ConfigType


class ConfigNotFound(LookupError):
    pass


def _parse(entry: Config) -> Any:
    value = entry.value
    if entry.config_type == ConfigType.INT:
        return int(value)
    if entry.config_type == ConfigType.BOOL:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if entry.config_type == ConfigType.SECRET_REF:
        from secrets_app.selectors import SecretNotFound, secret_value

        try:
            return secret_value(organization_id=entry.organization_id, name=str(value))
        except SecretNotFound:
            raise ConfigNotFound(entry.key) from None
    return value


def config_resolve(*, organization_id, key: str) -> Any:
    """The parsed value of `key` for the organization, else the GLOBAL one; ConfigNotFound otherwise."""
    entry = None
    if organization_id is not None:
        entry = Config.objects.filter(organization_id=organization_id, key=key).first()
    if entry is None:
        entry = Config.objects.filter(organization__isnull=True, key=key).first()
    if entry is None:
        raise ConfigNotFound(key)
    return _parse(entry)
