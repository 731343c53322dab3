"""Writes for organizations and config. Every change is audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import exceptions

import audit
from audit.services import diff, snapshot
from bifrost_site.api.errors import ConflictError
from orgs.models import Config, ConfigType, Organization
from orgs.selectors import ConfigValueError, parse_config_value

ORGANIZATION_FIELDS = ["name", "domain", "is_active", "settings", "max_concurrent_runs", "monthly_run_quota"]
CONFIG_FIELDS = ["key", "value", "config_type", "description", "organization"]
CONFIG_SECRET_WORDS = ("secret", "password", "token", "key", "credential")


def config_key_looks_secret(key: str) -> bool:
    """Config values of such keys are masked in lists and never shown in audit entries."""
    lowered = (key or "").lower()
    return any(word in lowered for word in CONFIG_SECRET_WORDS)


def normalize_domain(domain: str | None) -> str | None:
    """Lower-case e-mail domain, or None. Raises a 400 naming `domain`."""
    if domain is None:
        return None
    domain = domain.strip().lower().rstrip(".")
    if not domain:
        return None
    if "@" in domain:
        raise exceptions.ValidationError({"domain": ["Give the e-mail domain only (example.com), without '@'."]})
    if "." not in domain:
        raise exceptions.ValidationError({"domain": ["A domain must contain a dot (example.com)."]})
    if any(ch.isspace() for ch in domain) or len(domain) > 253:
        raise exceptions.ValidationError({"domain": ["Not a valid domain name."]})
    return domain


def _ensure_domain_free(domain: str | None, *, exclude_id=None) -> None:
    if domain is None:
        return
    clash = Organization.objects.filter(domain=domain)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if clash.exists():
        raise ConflictError(f"An organization with domain '{domain}' already exists.", details={"domain": domain})


def _save(instance, conflict_message: str) -> None:
    try:
        with transaction.atomic():
            instance.full_clean(validate_unique=False, validate_constraints=False)
            instance.save()
    except IntegrityError:
        raise ConflictError(conflict_message) from None


@transaction.atomic
def organization_create(
    *,
    name: str,
    domain: str | None = None,
    is_active: bool = True,
    settings: dict | None = None,
    max_concurrent_runs: int | None = None,
    monthly_run_quota: int | None = None,
) -> Organization:
    domain = normalize_domain(domain)
    _ensure_domain_free(domain)
    organization = Organization(
        name=name,
        domain=domain,
        is_active=is_active,
        settings=settings or {},
        max_concurrent_runs=max_concurrent_runs,
        monthly_run_quota=monthly_run_quota,
    )
    _save(organization, f"An organization with domain '{domain}' already exists.")
    audit.record(
        action="organization.create",
        resource_type="organization",
        resource_id=organization.id,
        organization=organization,
        changes=diff(None, snapshot(organization, ORGANIZATION_FIELDS)),
    )
    return organization


def _admit_waiting(organization_id) -> None:
    from executions.admission import admission_dispatch

    admission_dispatch(organization_ids=[organization_id])


@transaction.atomic
def organization_update(*, organization: Organization, data: dict[str, Any]) -> Organization:
    before = snapshot(organization, ORGANIZATION_FIELDS)
    if "domain" in data:
        data = {**data, "domain": normalize_domain(data["domain"])}
        _ensure_domain_free(data["domain"], exclude_id=organization.id)
    for field in ORGANIZATION_FIELDS:
        if field in data:
            setattr(organization, field, data[field])
    _save(organization, f"An organization with domain '{organization.domain}' already exists.")
    if before["is_active"] and not organization.is_active:
        _users_sessions_end(organization)
    if organization.max_concurrent_runs != before["max_concurrent_runs"]:
        # A raised limit admits waiting runs now rather than at the next finished run or periodic pass.
        organization_id = organization.id
        transaction.on_commit(lambda: _admit_waiting(organization_id))
    changes = diff(before, snapshot(organization, ORGANIZATION_FIELDS))
    if changes["before"] or changes["after"]:
        audit.record(
            action="organization.update",
            resource_type="organization",
            resource_id=organization.id,
            organization=organization,
            changes=changes,
        )
    return organization


def _users_sessions_end(organization: Organization) -> None:
    """Deactivation ends the sessions of every user of the organization (tokens and WebSockets)."""
    from accounts.services import user_sessions_end

    user_ids = list(organization.users.values_list("id", flat=True))
    user_sessions_end(user_ids=user_ids, reason="organization.deactivate")


@transaction.atomic
def organization_deactivate(*, organization: Organization) -> Organization:
    """DELETE keeps the data: the organization is marked inactive; its users can no longer sign in."""
    if organization.is_active:
        organization.is_active = False
        organization.save(update_fields=["is_active", "updated_at"])
        _users_sessions_end(organization)
    audit.record(
        action="organization.deactivate",
        resource_type="organization",
        resource_id=organization.id,
        organization=organization,
        changes={"before": {"is_active": True}, "after": {"is_active": False}},
    )
    return organization


# --- config ---


def config_value_validate(*, config_type: str, value: Any, organization_id) -> Any:
    """The typed value to store, or a 400 naming `value`. A secret_ref must name a secret that is
    visible in the entry's scope (the organization's own secrets or GLOBAL ones)."""
    try:
        parsed = parse_config_value(config_type, value)
    except ConfigValueError as exc:
        raise exceptions.ValidationError({"value": [f"{exc} (config_type is '{config_type}')"]}) from None
    if config_type == ConfigType.SECRET_REF:
        from secrets_app.selectors import SecretNotFound, secret_value

        try:
            secret_value(organization_id=organization_id, name=parsed)
        except SecretNotFound as exc:
            raise exceptions.ValidationError({"value": [str(exc)]}) from None
    return parsed


def _config_audit(action: str, entry: Config, changes: dict) -> None:
    audit.record(
        action=action,
        resource_type="config",
        resource_id=entry.key,
        organization=entry.organization_id,
        changes=changes,
        reveal_fields=frozenset() if config_key_looks_secret(entry.key) else frozenset({"value"}),
    )


@transaction.atomic
def config_create(
    *,
    key: str,
    value: Any,
    config_type: str = ConfigType.STRING,
    description: str = "",
    organization: Organization | None = None,
    user=None,
) -> Config:
    organization_id = organization.id if organization is not None else None
    if Config.objects.filter(organization_id=organization_id, key=key).exists():
        where = "this organization" if organization is not None else "GLOBAL scope"
        raise ConflictError(f"Config key '{key}' already exists in {where}.", details={"key": key})
    entry = Config(
        key=key,
        value=config_value_validate(config_type=config_type, value=value, organization_id=organization_id),
        config_type=config_type,
        description=description,
        organization=organization,
        updated_by=user if getattr(user, "is_authenticated", False) else None,
    )
    _save(entry, f"Config key '{key}' already exists in this scope.")
    _config_audit("config.create", entry, diff(None, snapshot(entry, CONFIG_FIELDS)))
    return entry


@transaction.atomic
def config_update(*, entry: Config, data: dict[str, Any], user=None) -> Config:
    before = snapshot(entry, CONFIG_FIELDS)
    if "key" in data and data["key"] != entry.key:
        raise exceptions.ValidationError({"key": ["The key of a config entry cannot change; create a new entry."]})
    config_type = data.get("config_type", entry.config_type)
    if "value" in data or "config_type" in data:
        value = data.get("value", entry.value)
        entry.value = config_value_validate(config_type=config_type, value=value, organization_id=entry.organization_id)
    entry.config_type = config_type
    if "description" in data:
        entry.description = data["description"]
    entry.updated_by = user if getattr(user, "is_authenticated", False) else None
    _save(entry, f"Config key '{entry.key}' already exists in this scope.")
    changes = diff(before, snapshot(entry, CONFIG_FIELDS))
    if changes["before"] or changes["after"]:
        _config_audit("config.update", entry, changes)
    return entry


@transaction.atomic
def config_delete(*, entry: Config) -> None:
    before = snapshot(entry, CONFIG_FIELDS)
    _config_audit("config.delete", entry, diff(before, None))
    entry.delete()
