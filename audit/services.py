"""The one audit service everything calls (DESIGN §5 AuditLog)."""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.chain import chain_append
from audit.models import AuditLog
from bifrost_site import request_context

REDACTED = "***"
SECRET_KEY_WORDS = ("secret", "password", "token", "credential", "private_key", "api_key", "value_encrypted")
# Field names whose values are secrets wherever they appear in a change set.
ALWAYS_REDACTED_FIELDS = {"value", "client_secret", "access_token", "refresh_token", "code_verifier", "password"}


def looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_KEY_WORDS)


def redact(
    changes: Any, *, secret_fields: frozenset[str] = frozenset(), reveal_fields: frozenset[str] = frozenset()
) -> Any:
    """Replace values of secret-looking keys, recursively, before anything is stored.

    `secret_fields` adds names to redact; `reveal_fields` exempts names from ALWAYS_REDACTED_FIELDS
    (e.g. a config entry's `value` when its key does not look secret). A key that itself looks
    secret is always redacted."""
    if isinstance(changes, dict):
        redacted = {}
        for key, value in changes.items():
            if isinstance(key, str) and (
                looks_secret(key)
                or key in secret_fields
                or (key in ALWAYS_REDACTED_FIELDS and key not in reveal_fields)
            ):
                redacted[key] = REDACTED if value not in (None, "") else value
            else:
                redacted[key] = redact(value, secret_fields=secret_fields, reveal_fields=reveal_fields)
        return redacted
    if isinstance(changes, list):
        return [redact(item, secret_fields=secret_fields, reveal_fields=reveal_fields) for item in changes]
    return changes


def diff(before: dict | None, after: dict | None) -> dict:
    """A before/after change set holding only the keys that differ."""
    before = before or {}
    after = after or {}
    keys = sorted(set(before) | set(after))
    changed = [k for k in keys if before.get(k) != after.get(k)]
    return {
        "before": {k: before.get(k) for k in changed if k in before},
        "after": {k: after.get(k) for k in changed if k in after},
    }


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict:
    """A JSON-safe view of a model instance for change sets."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        name = field.attname
        data[field.name if field.is_relation else name] = getattr(instance, name)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def audit_record(
    *,
    action: str,
    resource_type: str = "",
    resource_id: Any = "",
    actor=None,
    actor_name: str | None = None,
    organization=None,
    changes: dict | None = None,
    secret_fields: frozenset[str] = frozenset(),
    reveal_fields: frozenset[str] = frozenset(),
) -> AuditLog:
    """Append an audit entry to the hash chain (audit.chain: under the chain's advisory lock, held until
    the caller's transaction ends). Request metadata (IP, user agent, request id, actor) comes from the
    current request context when the caller does not pass it."""
    context = request_context.current()
    if actor is None and context is not None and getattr(context.actor, "is_authenticated", False):
        actor = context.actor
    if actor_name is None:
        if actor is not None and getattr(actor, "is_authenticated", False):
            actor_name = actor.email
        elif context is not None and context.actor_name:
            actor_name = context.actor_name
        else:
            actor_name = "system"
    organization_id = getattr(organization, "pk", organization)
    entry = AuditLog(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name,
        organization_id=organization_id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id or ""),
        changes=redact(changes or {}, secret_fields=secret_fields, reveal_fields=reveal_fields),
        ip_address=context.ip_address if context else None,
        user_agent=context.user_agent if context else "",
        request_id=context.request_id if context else "",
    )
    chain_append(entry)
    return entry
