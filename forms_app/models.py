from django.conf import settings
from django.db import models

from bifrost_site.models import BaseModel, OrgOwnedModel


class AccessLevel(models.TextChoices):
    PUBLIC = "public", "Public"
    AUTHENTICATED = "authenticated", "Authenticated"
    ROLE_BASED = "role_based", "Role based"


FIELD_TYPES = (
    "text",
    "email",
    "number",
    "select",
    "multi_select",
    "checkbox",
    "textarea",
    "radio",
    "date",
    "datetime",
    "markdown",
    "html",
    "file",
)
MAX_FORM_FIELDS = 50


def default_schema() -> dict:
    return {"fields": []}


class Form(OrgOwnedModel):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="forms"
    )
    workflow = models.CharField(max_length=200, help_text="Name of the workflow a submission runs.")
    launch_workflow = models.CharField(max_length=200, blank=True, default="")
    default_launch_params = models.JSONField(default=dict, blank=True)
    allowed_query_params = models.JSONField(default=list, blank=True)
    schema = models.JSONField(default=default_schema)
    access_level = models.CharField(max_length=20, choices=AccessLevel.choices, default=AccessLevel.ROLE_BASED)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    roles = models.ManyToManyField(
        "accounts.Role", through="FormRole", through_fields=("form", "role"), related_name="forms"
    )
    # Approval before a submission runs (DESIGN §16, approvals.services).
    requires_approval = models.BooleanField(default=False)
    approver_roles = models.ManyToManyField("accounts.Role", blank=True, related_name="approval_forms")
    approval_timeout_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Default 72 hours.")

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~models.Q(name=""), name="form_name_not_empty")]

    def __str__(self) -> str:
        return self.name


class FormRole(BaseModel):
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="form_roles")
    role = models.ForeignKey("accounts.Role", on_delete=models.CASCADE, related_name="form_roles")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assigned_at"]
        constraints = [models.UniqueConstraint(fields=["form", "role"], name="formrole_unique_pair")]


def upload_path(instance: "FormUpload", filename: str) -> str:
    scope = instance.organization_id or "global"
    return f"uploads/{scope}/{instance.form_id}/{instance.id}"


class FormUpload(BaseModel):
    """A file uploaded for a form's `file` field; submissions refer to it by id."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="uploads")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    field_name = models.CharField(max_length=200)
    file = models.FileField(upload_to=upload_path, max_length=500)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
