"""Reads for secrets.

Minimal version written for the workflow engine (issue 4); the secrets owner (issue 6) provides
the full module with the same `secret_value` signature.
"""

from __future__ import annotations

from secrets_app.models import Secret


class SecretNotFound(LookupError):
    pass


def secret_value(*, organization_id, name: str) -> str:
    """The plaintext of secret `name` for the organization, else the GLOBAL one."""
    secret = None
    if organization_id is not None:
        secret = Secret.objects.filter(organization_id=organization_id, name=name).first()
    if secret is None:
        secret = Secret.objects.filter(organization__isnull=True, name=name).first()
    if secret is None:
        raise SecretNotFound(name)
    return secret.value
