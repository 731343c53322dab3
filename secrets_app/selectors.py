"""Reads for secrets. The value is only ever handed to server-side code (SDK, config resolution)."""

from django.db.models import F, Q

from secrets_app.models import Secret


class SecretNotFound(LookupError):
    """No secret of that name in the organization nor GLOBAL."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"Secret '{name}' not found (neither in the organization nor GLOBAL).")


def secret_value(*, organization_id, name) -> str:
    """The organization's secret named `name`, else the GLOBAL one, decrypted."""
    scope = Q(organization__isnull=True)
    if organization_id is not None:
        scope |= Q(organization_id=organization_id)
    row = Secret.objects.filter(scope, name=name).order_by(F("organization").asc(nulls_last=True)).first()
    if row is None:
        raise SecretNotFound(name)
    return row.value
