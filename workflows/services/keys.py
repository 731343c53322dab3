"""Webhook keys for `/api/endpoints/{workflow}` (DESIGN §5 WorkflowKey, §6 webhooks).

A key is `bfk_` + 43 url-safe characters. Only its SHA-256 (hex) is stored; the raw key is
returned once, at creation. Authentication looks the hash up (an indexed equality on a digest, so
the raw key is never compared character by character) and then checks revocation, expiry and the
workflow the key is for; every refusal is the same 401.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
import audit.services
from workflows.models import Workflow, WorkflowKey

logger = logging.getLogger(__name__)

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


INVALID_KEY_MESSAGE = "A valid workflow key for this endpoint is required in the X-Bifrost-Key header."


def workflow_key_authenticate(raw_key: str | None, workflow: Workflow | str) -> WorkflowKey:
    """The key for this call, or 401.

    Every refusal is the same 401 with the same message (missing, unknown, revoked, expired or for
    another workflow), so that a caller without a valid key learns nothing about keys or workflows;
    the reason is logged for the operator.
    """
    workflow_name = workflow if isinstance(workflow, str) else workflow.name
    key, reason = _valid_key(raw_key, workflow_name)
    if key is None:
        logger.info("workflow key refused for %r: %s", workflow_name, reason)
        raise KeyAuthenticationFailed(INVALID_KEY_MESSAGE, code="invalid_key")
    now = timezone.now()
    WorkflowKey.objects.filter(id=key.id).update(last_used_at=now)
    key.last_used_at = now
    return key


def _valid_key(raw_key: str | None, workflow_name: str) -> tuple[WorkflowKey | None, str]:
    if not raw_key:
        return None, "missing"
    digest = key_hash(raw_key.strip())
    key = WorkflowKey.objects.select_related("workflow").filter(hashed_key=digest).first()
    if key is None or not hmac.compare_digest(key.hashed_key, digest):
        return None, "unknown"
    if key.revoked_at is not None:
        return None, f"revoked ({key.key_prefix})"
    if key.expires_at is not None and key.expires_at <= timezone.now():
        return None, f"expired ({key.key_prefix})"
    if key.workflow_id is not None and key.workflow.name != workflow_name:
        return None, f"for another workflow ({key.key_prefix})"
    return key, ""
