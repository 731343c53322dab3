from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from bifrost_site.crypto import EncryptedTextField
from bifrost_site.models import OrgOwnedModel

SECRET_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
SECRET_NAME_VALIDATOR = RegexValidator(SECRET_NAME_PATTERN, "Use 1-100 letters, digits, '_' or '-'.")


class Secret(OrgOwnedModel):
    """An encrypted value. No API ever returns it; workflows read it through the SDK."""

    name = models.CharField(max_length=100, validators=[SECRET_NAME_VALIDATOR])
    value = EncryptedTextField()
    description = models.TextField(blank=True, default="")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="secrets"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], nulls_distinct=False, name="secret_unique_org_name"
            ),
            models.CheckConstraint(condition=models.Q(name__regex=SECRET_NAME_PATTERN), name="secret_name_format"),
        ]

    def __str__(self) -> str:
        return self.name
