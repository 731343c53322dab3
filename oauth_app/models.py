from django.conf import settings
from django.db import models

from bifrost_site.crypto import EncryptedTextField
from bifrost_site.models import BaseModel, OrgOwnedModel
from secrets_app.models import SECRET_NAME_PATTERN, SECRET_NAME_VALIDATOR


class FlowType(models.TextChoices):
    AUTHORIZATION_CODE = "authorization_code", "Authorization code"
    CLIENT_CREDENTIALS = "client_credentials", "Client credentials"


class ConnectionStatus(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    WAITING_CALLBACK = "waiting_callback", "Waiting for callback"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class OAuthConnection(OrgOwnedModel):
    name = models.CharField(max_length=100, validators=[SECRET_NAME_VALIDATOR])
    description = models.TextField(blank=True, default="")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="oauth_connections"
    )
    flow_type = models.CharField(max_length=30, choices=FlowType.choices)
    client_id = models.CharField(max_length=500)
    client_secret = EncryptedTextField(blank=True, null=True)
    authorization_url = models.URLField(max_length=2000, blank=True, default="")
    token_url = models.URLField(max_length=2000)
    scopes = models.JSONField(default=list, blank=True)
    extra_token_params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.NOT_CONNECTED)
    status_message = models.TextField(blank=True, default="")
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], nulls_distinct=False, name="oauthconnection_unique_org_name"
            ),
            models.CheckConstraint(
                condition=models.Q(name__regex=SECRET_NAME_PATTERN), name="oauthconnection_name_format"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="oauthconn_status_idx")]
        verbose_name = "OAuth connection"

    def __str__(self) -> str:
        return self.name


class OAuthToken(BaseModel):
    """The one current token of a connection."""

    connection = models.OneToOneField(OAuthConnection, on_delete=models.CASCADE, related_name="token")
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True, null=True)
    token_type = models.CharField(max_length=40, default="Bearer")
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    scopes = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "OAuth token"

    def __str__(self) -> str:
        return f"token for {self.connection}"


class OAuthState(BaseModel):
    """A pending authorization: single use, expiring, bound to connection, org and admin."""

    state_hash = models.CharField(max_length=64, unique=True)
    connection = models.ForeignKey(OAuthConnection, on_delete=models.CASCADE, related_name="states")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code_verifier = EncryptedTextField()
    redirect_uri = models.URLField(max_length=2000)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class OAuthRefreshRun(BaseModel):
    """One run of the periodic refresh task; the newest is shown at /api/oauth/refresh-job."""

    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveIntegerField(default=0)
    refreshed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "OAuth refresh run"
