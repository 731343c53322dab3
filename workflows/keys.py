"""Webhook keys for `/api/endpoints/{workflow}` (DESIGN §5 WorkflowKey, §6 webhooks).

A key is `bfk_` + 43 url-safe characters. Only its SHA-256 (hex) is stored; the raw key is
returned once, at creation. Authentication looks the hash up (an indexed equality on a digest, so
the raw key is never compared character by character) and then checks revocation, expiry and the
workflow the key is for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
import audit.services
from workflows.models import Workflow, WorkflowKey

KEY_PREFIX = "bfk_"
VISIBLE_CHARS = 8  # "bfk_" + 4 characters


def key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def masked_key(key: WorkflowKey) -> str:
    return f"{key.key_prefix}…"


@dataclass(frozen=True)
class CreatedKey:
    key: WorkflowKey
    raw_key: str


class KeyAuthenticationFailed(exceptions.AuthenticationFailed):
    pass


@transaction.atomic
def workflow_key_create(
    *, workflow_name: str | None = None, description: str = "", expires_at=None, created_by=None
) -> CreatedKey:
    workflow = None
    if workflow_name:
        workflow = Workflow.objects.filter(name=workflow_name).first()
        if workflow is None:
            raise exceptions.ValidationError({"workflow": [f"No workflow named {workflow_name!r}."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise exceptions.ValidationError({"expires_at": ["The expiry must be in the future."]})
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = WorkflowKey.objects.create(
        hashed_key=key_hash(raw_key),
        key_prefix=raw_key[:VISIBLE_CHARS],
        workflow=workflow,
        description=description,
        expires_at=expires_at,
        created_by=created_by,
    )
    audit.record(
        action="workflow_key.create",
        resource_type="workflow_key",
        resource_id=key.id,
        actor=created_by,
        changes={
            "after": {
                "workflow": workflow_name or None,
                "description": description,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "masked_key": masked_key(key),
            }
        },
    )
    return CreatedKey(key=key, raw_key=raw_key)


@transaction.atomic
def workflow_key_revoke(*, key: WorkflowKey, revoked_by=None) -> WorkflowKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            action="workflow_key.revoke",
            resource_type="workflow_key",
            resource_id=key.id,
            actor=revoked_by,
            changes={"before": {"revoked_at": None}, "after": {"revoked_at": key.revoked_at.isoformat()}},
        )
    return key


def workflow_key_authenticate(raw_key: str | None, workflow: Workflow | str) -> WorkflowKey:
    """The key for this call, or 401 saying why (missing, unknown, revoked, expired, wrong workflow)."""
    workflow_name = workflow if isinstance(workflow, str) else workflow.name
    if not raw_key:
        raise KeyAuthenticationFailed("Send the workflow key in the X-Bifrost-Key header.", code="missing_key")
    digest = key_hash(raw_key.strip())
    key = WorkflowKey.objects.select_related("workflow").filter(hashed_key=digest).first()
    if key is None or not hmac.compare_digest(key.hashed_key, digest):
        raise KeyAuthenticationFailed("Unknown workflow key.", code="unknown_key")
    now = timezone.now()
    if key.revoked_at is not None:
        raise KeyAuthenticationFailed("This workflow key has been revoked.", code="revoked_key")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyAuthenticationFailed("This workflow key has expired.", code="expired_key")
    if key.workflow_id is not None and key.workflow.name != workflow_name:
        raise KeyAuthenticationFailed("This workflow key is for another workflow.", code="wrong_workflow")
    WorkflowKey.objects.filter(id=key.id).update(last_used_at=now)
    key.last_used_at = now
    return key
