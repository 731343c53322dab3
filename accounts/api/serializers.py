from django.contrib.auth import get_user_model
from rest_framework import serializers

User = get_user_model()


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="The account's email address.")
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class MeSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(allow_null=True, read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "name", "user_type", "is_platform_admin", "organization_id", "roles"]
        read_only_fields = fields

    def get_roles(self, user) -> list[str]:
        return sorted(role.name for role in user.roles.all() if role.is_active)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    organization_id = serializers.UUIDField(required=False, allow_null=True)


# --- admin API: users and roles ---

from accounts.models import Role, UserType  # noqa: E402


class UserSerializer(serializers.ModelSerializer):
    """A user as the admin API shows it. `password` is write-only and optional on create: without
    one the account cannot sign in until `POST /api/users/{id}/password` sets it."""

    email = serializers.EmailField(max_length=254)
    organization_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Required for ORG users; must be empty for PLATFORM users."
    )
    user_type = serializers.ChoiceField(
        choices=UserType.choices,
        required=False,
        help_text="Defaults to ORG when an organization is given (or the request is org-scoped), else PLATFORM.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=1024,
        trim_whitespace=False,
        style={"input_type": "password"},
    )
    has_usable_password = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "name",
            "user_type",
            "is_platform_admin",
            "organization_id",
            "is_active",
            "password",
            "has_usable_password",
            "last_login",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_login", "created_at", "updated_at", "has_usable_password"]

    def get_has_usable_password(self, user) -> bool:
        return user.has_usable_password()


class UserUpdateSerializer(UserSerializer):
    user_type = serializers.ChoiceField(choices=UserType.choices, read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [f for f in UserSerializer.Meta.fields if f != "password"]


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class RoleSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100)
    organization_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="null = GLOBAL")
    user_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Role
        fields = ["id", "name", "description", "organization_id", "is_active", "user_count", "created_at", "updated_at"]
        read_only_fields = ["id", "organization_id", "user_count", "created_at", "updated_at"]


class RoleBriefSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Role
        fields = ["id", "name", "description", "organization_id", "is_active"]
        read_only_fields = fields


class RoleMemberSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "organization_id", "is_active"]
        read_only_fields = fields


class UserIdsSerializer(serializers.Serializer):
    user_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=500)


class FormIdsSerializer(serializers.Serializer):
    form_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=500)


class RoleFormSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    organization_id = serializers.UUIDField(allow_null=True)
    access_level = serializers.CharField()
    is_active = serializers.BooleanField()


# --- personal API tokens ---

from accounts.models import Passkey, PersonalToken  # noqa: E402


class PersonalTokenSerializer(serializers.ModelSerializer):
    """A personal token as lists show it: never the token itself, only `masked_token`."""

    masked_token = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "masked_token", "created_at", "expires_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields

    def get_masked_token(self, token) -> str:
        return f"{token.prefix}…"

    def get_is_active(self, token) -> bool:
        from django.utils import timezone

        return token.revoked_at is None and token.expires_at > timezone.now()


class PersonalTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(help_text="At most one year from now.")


class PersonalTokenCreatedSerializer(PersonalTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The raw token (`bfp_…`): shown this once only.")

    class Meta(PersonalTokenSerializer.Meta):
        fields = [*PersonalTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


# --- MFA and password (DESIGN §17) ---


class MFAChallengeSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField(required=False)
    mfa_setup_required = serializers.BooleanField(required=False)
    mfa_token = serializers.CharField(help_text="Valid 5 minutes: POST /auth/mfa, or enrol with it.")
    methods = serializers.ListField(child=serializers.CharField(), required=False)


class MFACompleteSerializer(serializers.Serializer):
    mfa_token = serializers.CharField(max_length=1024)
    code = serializers.CharField(max_length=64, required=False, help_text="A 6-digit TOTP code or a recovery code.")
    credential = serializers.JSONField(
        required=False, help_text="Instead of a code: the passkey's answer (PublicKeyCredential.toJSON())."
    )
    state = serializers.CharField(
        max_length=4096, required=False, help_text="With `credential`: the state of the authentication options."
    )

    def validate(self, attrs):
        if not attrs.get("code") and not (attrs.get("credential") and attrs.get("state")):
            raise serializers.ValidationError({"code": ["Give a code, or a passkey credential and its state."]})
        return attrs


class PasskeyOptionsSerializer(serializers.Serializer):
    options = serializers.JSONField(help_text="For PublicKeyCredential.parse…OptionsFromJSON (the publicKey member).")
    state = serializers.CharField(help_text="Send it back with the answer (valid 5 minutes, once).")


class PasskeySerializer(serializers.ModelSerializer):
    class Meta:
        model = Passkey
        fields = ["id", "name", "created_at", "last_used_at"]
        read_only_fields = fields


class PasskeyRegisterSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    credential = serializers.JSONField(help_text="PublicKeyCredential.toJSON() of navigator.credentials.create().")
    state = serializers.CharField(max_length=4096)
    mfa_token = serializers.CharField(max_length=1024, required=False)


class PasskeyRegisteredSerializer(serializers.Serializer):
    passkey = PasskeySerializer()
    recovery_codes = serializers.ListField(child=serializers.CharField(), help_text="When MFA was just turned on.")


class MFATokenOptionalSerializer(serializers.Serializer):
    mfa_token = serializers.CharField(
        max_length=1024, required=False, help_text="Instead of an access token: a user who must enrol (sign-in)."
    )


class TotpConfirmSerializer(MFATokenOptionalSerializer):
    code = serializers.CharField(max_length=16)


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URI as an SVG QR code.")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField(), help_text="Shown this once.")
    access_token = serializers.CharField(required=False)
    refresh_token = serializers.CharField(required=False)
    token_type = serializers.CharField(required=False)
    expires_in = serializers.IntegerField(required=False)


class MFAStatusSerializer(serializers.Serializer):
    methods = serializers.ListField(child=serializers.CharField())
    required = serializers.BooleanField()
    recovery_codes_left = serializers.IntegerField()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


# --- single sign-on of an organization ---

from accounts.models import OrganizationSSO  # noqa: E402


class OrganizationSSOSerializer(serializers.ModelSerializer):
    """An organization's OpenID Connect provider. `client_secret` is write-only (`has_client_secret`
    says whether one is stored); on PUT, leaving it out keeps the stored secret."""

    organization_id = serializers.UUIDField(read_only=True)
    issuer = serializers.CharField(max_length=500, help_text="The OIDC issuer URL (https).")
    client_secret = serializers.CharField(
        max_length=4096, write_only=True, required=False, allow_blank=True, trim_whitespace=False
    )
    has_client_secret = serializers.SerializerMethodField()
    email_domains = serializers.ListField(child=serializers.CharField(max_length=253), allow_empty=False)
    default_role_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)

    class Meta:
        model = OrganizationSSO
        fields = [
            "organization_id",
            "issuer",
            "client_id",
            "client_secret",
            "has_client_secret",
            "email_domains",
            "default_role_ids",
            "enforce",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["organization_id", "has_client_secret", "created_at", "updated_at"]

    def get_has_client_secret(self, sso) -> bool:
        return bool(sso.client_secret)

    def to_representation(self, sso):
        data = super().to_representation(sso)
        data["default_role_ids"] = sorted(str(i) for i in sso.default_roles.values_list("id", flat=True))
        return data


# --- invitations ---

from accounts.models import Invitation  # noqa: E402


class InvitationSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    role_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "organization_id",
            "role_ids",
            "is_platform_admin",
            "status",
            "expires_at",
            "invited_by",
            "accepted_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = ["id", "status", "expires_at", "invited_by", "accepted_at", "revoked_at", "created_at"]

    def to_representation(self, invitation):
        data = super().to_representation(invitation)
        data["role_ids"] = sorted(str(r.id) for r in invitation.roles.all())
        return data
