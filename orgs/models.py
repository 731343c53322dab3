from django.conf import settings
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models

from bifrost_site.models import ACTIVITY, BaseModel, OrgOwnedModel, OrgScopedQuerySet

CONFIG_KEY_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_]+$", "Use letters, digits and underscores only.")


class OrganizationQuerySet(OrgScopedQuerySet):
    def for_scope(self, scope):
        if scope is None:
            return self.none()
        if scope.organization_id is None:
            return self.all() if scope.is_platform_admin else self.none()
        return self.filter(id=scope.organization_id)


class Organization(BaseModel):
    """A customer of the MSP. Deleting one deactivates it; its data stays."""

    name = models.CharField(max_length=200, validators=[MinLengthValidator(1)])
    domain = models.CharField(max_length=253, null=True, blank=True, unique=True)
    is_active = models.BooleanField(default=True, db_index=True)
    settings = models.JSONField(default=dict, blank=True)
    # Run admission (DESIGN §15): null = the ORG_MAX_CONCURRENT_RUNS setting / unlimited.
    max_concurrent_runs = models.PositiveIntegerField(null=True, blank=True)
    monthly_run_quota = models.PositiveIntegerField(null=True, blank=True)
    # Identity (DESIGN §17): members must enrol a second factor (TOTP or a passkey) at their next sign-in.
    require_mfa = models.BooleanField(default=False)

    objects = OrganizationQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="organization_name_not_empty"),
            models.CheckConstraint(
                condition=models.Q(domain__isnull=True) | models.Q(domain=models.functions.Lower("domain")),
                name="organization_domain_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ConfigType(models.TextChoices):
    STRING = "string", "String"
    INT = "int", "Integer"
    BOOL = "bool", "Boolean"
    JSON = "json", "JSON"
    SECRET_REF = "secret_ref", "Secret reference"


class Config(OrgOwnedModel):
    key = models.CharField(max_length=255, validators=[CONFIG_KEY_VALIDATOR])
    value = models.JSONField(null=True, blank=True)
    config_type = models.CharField(max_length=20, choices=ConfigType.choices, default=ConfigType.STRING)
    description = models.TextField(blank=True, default="")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="configs"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        verbose_name = "config entry"
        verbose_name_plural = "config"
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], nulls_distinct=False, name="config_unique_org_key"),
            models.CheckConstraint(condition=models.Q(key__regex=r"^[A-Za-z0-9_]+$"), name="config_key_format"),
        ]

    def __str__(self) -> str:
        return self.key
