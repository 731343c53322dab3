from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction

from bifrost_site.models import ACTIVITY, BaseModel, OrgOwnedModel, OrgScopedQuerySet


class UserType(models.TextChoices):
    PLATFORM = "PLATFORM", "Platform"
    ORG = "ORG", "Organization"


class UserQuerySet(OrgScopedQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create(self, email, password, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("user_type", UserType.ORG if fields.get("organization") else UserType.PLATFORM)
        return self._create(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        fields.update(user_type=UserType.PLATFORM, is_platform_admin=True, organization=None)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin, BaseModel):
    """A person who signs in with an email address.

    PLATFORM users are the MSP's staff (platform admins are Django staff and superusers);
    ORG users belong to exactly one customer organization.
    """

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    user_type = models.CharField(max_length=10, choices=UserType.choices, default=UserType.ORG)
    is_platform_admin = models.BooleanField(default=False)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    is_active = models.BooleanField(default=True)
    # The generation of this user's tokens: every access and refresh token carries the value it was
    # issued under and is refused once it changes (a new password, deactivation: DESIGN §17).
    token_version = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()
    scope_mode = ACTIVITY
    _password_replaced = False

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user_type=UserType.ORG, organization__isnull=False, is_platform_admin=False)
                    | models.Q(user_type=UserType.PLATFORM, organization__isnull=True)
                ),
                name="user_type_matches_organization",
            ),
            models.CheckConstraint(
                condition=models.Q(email=models.functions.Lower("email")), name="user_email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        # Django's admin site keys off is_staff/is_superuser; platform admins are both.
        self.is_superuser = self.is_platform_admin
        super().save(*args, **kwargs)
        if self._password_replaced:
            self._password_replaced = False
            from bifrost_site.ws_auth import user_sockets_close

            user_id = self.pk
            transaction.on_commit(lambda: user_sockets_close([user_id]))

    def set_password(self, raw_password):
        """Replacing the password of a saved user ends their sessions: the tokens issued under the old
        one stop working once this is saved, whichever path (API, admin, `changepassword`) set it."""
        if self.password and not self._state.adding:
            self.token_version += 1
            self._password_replaced = True  # save() then closes the user's WebSockets
        super().set_password(raw_password)

    def get_session_auth_hash(self):
        """Browser sessions end with the token version too (DESIGN §17): a new password, MFA turned on,
        deactivation or "sign out everywhere" sign out every other browser as well as every token.
        The browser that made the change keeps its session (update_session_auth_hash)."""
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "bifrost.accounts.User.get_session_auth_hash", f"{self.password}|{self.token_version}", algorithm="sha256"
        ).hexdigest()

    @property
    def is_staff(self) -> bool:
        return self.is_platform_admin

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Role(OrgOwnedModel):
    """Grants ORG users access to forms (FormRole)."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="roles"
    )
    is_active = models.BooleanField(default=True)
    users = models.ManyToManyField(User, through="UserRole", through_fields=("role", "user"), related_name="roles")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], nulls_distinct=False, name="role_unique_org_name"),
            models.CheckConstraint(condition=~models.Q(name=""), name="role_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class UserRole(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="user_roles")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="user_roles")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assigned_at"]
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="userrole_unique_pair")]

    def __str__(self) -> str:
        return f"{self.user} → {self.role}"

    def clean(self):
        """A user holds roles of their own organization or GLOBAL roles; a platform user (MSP staff) holds
        GLOBAL roles only (an approver role, DESIGN §16) and a platform admin none (DESIGN §4). The admin's
        inlines validate through here; the API's service checks the same."""
        super().clean()
        try:
            user, role = self.user, self.role
        except models.ObjectDoesNotExist:
            return  # the missing field is reported on its own
        problem = role_holding_problem(user, role)
        if problem:
            raise ValidationError(problem)  # not a field's: each inline shows one of the two fields


def role_holding_problem(user, role) -> str | None:
    """Why `user` may not hold `role`, or None when they may."""
    if user.is_platform_admin:
        return f"{user.email} is a platform admin: platform admins cannot be given roles (they see everything)."
    if user.user_type != UserType.ORG:
        if role.organization_id is not None:
            return (
                f"The role '{role.name}' belongs to the organization {role.organization}, and {user.email} is a "
                "platform user: platform users may only hold GLOBAL roles."
            )
        return None
    if role.organization_id is not None and role.organization_id != user.organization_id:
        return (
            f"The role '{role.name}' belongs to the organization {role.organization}, and {user.email} to "
            f"{user.organization or 'no organization'}: a user may only hold roles of their own organization "
            "or GLOBAL roles."
        )
    return None


class RevokedAccessToken(BaseModel):
    """An access token refused before it expires (`POST /auth/logout` with the access token).

    Kept in PostgreSQL rather than Redis: the check rides on the user lookup every authenticated
    request makes anyway (no extra round trip), and a revocation survives a Redis restart. Rows
    are deleted once the token would have expired (`accounts.prune_revoked_access_tokens`).
    """

    jti = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti


class PersonalToken(BaseModel):
    """A personal API token (DESIGN §17): `Authorization: Bearer bfp_…` acts as `user`.

    Only the SHA-256 of the raw token is stored (the raw token has 256 random bits, so a plain digest
    cannot be reversed by guessing; no SECRET_KEY is involved, so rotating it keeps tokens working).
    The raw token is returned once, at creation. `prefix` ("bfp_" + 4 characters) is what lists show.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=~models.Q(name=""), name="personal_token_name_not_empty")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


# --- multi-factor authentication (DESIGN §17, docs/identity.md) ---

from bifrost_site.crypto import EncryptedTextField  # noqa: E402


class TotpDevice(BaseModel):
    """A user's authenticator app. Counts once `confirmed_at` is set (a code was entered)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = EncryptedTextField()  # base32, encrypted with ENCRYPTION_KEYS
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The 30-second step of the last accepted code: a code is accepted once (no replay within its window).
    last_used_step = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"TOTP of {self.user_id}"


class RecoveryCode(BaseModel):
    """One single-use recovery code; only its SHA-256 is stored (80 random bits per code)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class Passkey(BaseModel):
    """A WebAuthn credential (passkey or security key) registered by a user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100)
    credential_id = models.CharField(max_length=1024, unique=True)  # base64url
    credential_data = models.TextField()  # base64url of fido2's AttestedCredentialData (holds the public key)
    sign_count = models.BigIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


# --- single sign-on (DESIGN §17, docs/identity.md) ---


class OrganizationSSO(BaseModel):
    """An organization's OpenID Connect provider: its users (by email domain) sign in there.

    `organization.sso` reaches it. Users are created on first sign-in in this organization with
    `default_roles`; with `enforce`, password sign-in is refused for the organization's users.
    """

    organization = models.OneToOneField("orgs.Organization", on_delete=models.CASCADE, related_name="sso")
    issuer = models.URLField(max_length=500, help_text="The OIDC issuer (its discovery document is read from it).")
    client_id = models.CharField(max_length=255)
    client_secret = EncryptedTextField(blank=True, default="")  # encrypted with ENCRYPTION_KEYS; never shown
    email_domains = models.JSONField(default=list, blank=True, help_text="Lower-case domains, e.g. contoso.com.")
    default_roles = models.ManyToManyField(Role, blank=True, related_name="+")
    enforce = models.BooleanField(default=False, help_text="Refuse password sign-in for this organization's users.")
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "single sign-on"
        verbose_name_plural = "single sign-on"

    def __str__(self) -> str:
        return f"SSO of {self.organization}"


# --- invitations (DESIGN §17) ---


class Invitation(BaseModel):
    """A single-use link, valid 7 days, that creates the invited user (password or SSO) with these roles.

    Only the SHA-256 of the link's token is stored."""

    email = models.EmailField()
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="+")
    is_platform_admin = models.BooleanField(default=False)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()
    scope_mode = ACTIVITY

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email}"

    @property
    def status(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
