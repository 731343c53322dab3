from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    LoginSerializer,
    MeSerializer,
    MFAChallengeSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
)
from accounts.selectors import user_with_roles
from bifrost_site.api.docs import ERROR
from bifrost_site.api.permissions import BearerChallengeMixin, IsAuthenticatedUser
from bifrost_site.api.throttling import ResilientScopedRateThrottle as ScopedRateThrottle
from bifrost_site.middleware import client_ip
from orgs.models import Organization


class LoginView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request={"application/json": LoginSerializer, "application/x-www-form-urlencoded": LoginSerializer},
        responses={
            200: PolymorphicProxySerializer(
                component_name="LoginResult",
                serializers=[TokenPairSerializer, MFAChallengeSerializer],
                resource_type_field_name=None,
            ),
            400: ERROR,
            401: ERROR,
            403: ERROR,
            429: ERROR,
        },
        tags=["auth"],
        summary="Sign in with email and password (a user with MFA gets an mfa_token instead of tokens)",
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.auth_login(ip=client_ip(request), **serializer.validated_data)
        return Response(pair.as_response())


class RefreshView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, 400: ERROR, 401: ERROR, 403: ERROR},
        tags=["auth"],
        summary="Exchange a refresh token for a new pair (the old one is revoked)",
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.auth_refresh(**serializer.validated_data).as_response())


class LogoutView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=RefreshSerializer, responses={204: None, 400: ERROR}, tags=["auth"], summary="Revoke tokens")
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        header = request.headers.get("Authorization", "")
        access = header.split(" ", 1)[1].strip() if header.lower().startswith("bearer ") else None
        services.auth_logout(refresh_token=serializer.validated_data["refresh_token"], access_token=access)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: MeSerializer, 401: ERROR}, tags=["auth"], summary="The signed-in user")
    def get(self, request):
        return Response(MeSerializer(user_with_roles(request.user.id)).data)


class RegisterView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=RegisterSerializer,
        responses={201: MeSerializer, 400: ERROR, 403: ERROR, 409: ERROR},
        tags=["auth"],
        summary="Self-registration (development only; into the organization owning the email's domain)",
    )
    def post(self, request):
        if settings.ENVIRONMENT != "development":
            raise exceptions.PermissionDenied("Registration is only available in development.")
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_register(
            email=data["email"],
            password=data["password"],
            name=data.get("name", ""),
            organization_id=data.get("organization_id"),
        )
        return Response(MeSerializer(user_with_roles(user.id)).data, status=status.HTTP_201_CREATED)


# --- admin API: users and roles ---

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Count  # noqa: E402
from drf_spectacular.types import OpenApiTypes  # noqa: E402
from drf_spectacular.utils import OpenApiParameter, extend_schema_view  # noqa: E402
from rest_framework.decorators import action  # noqa: E402

from accounts.api.serializers import (  # noqa: E402
    FormIdsSerializer,
    PasswordSerializer,
    RoleBriefSerializer,
    RoleFormSerializer,
    RoleMemberSerializer,
    RoleSerializer,
    UserIdsSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.filtersets import RoleFilterSet, UserFilterSet  # noqa: E402
from accounts.models import Role, UserType  # noqa: E402
from bifrost_site.api.docs import ORG_SCOPE_PARAMETER, errors  # noqa: E402
from bifrost_site.api.viewsets import BifrostViewSet  # noqa: E402

UserModel = get_user_model()
_CRUD_HTTP = ["get", "post", "put", "patch", "delete", "head", "options"]


@extend_schema_view(
    list=extend_schema(
        summary="List users (GLOBAL: every user; organization scope: that organization's users)",
        responses={200: UserSerializer(many=True), **errors(400, 404)},
    ),
    create=extend_schema(summary="Create a user", responses={201: UserSerializer, **errors(400, 404, 409)}),
    retrieve=extend_schema(summary="Get a user", responses={200: UserSerializer, **errors(400, 404)}),
    update=extend_schema(
        summary="Replace a user's editable fields",
        request=UserUpdateSerializer,
        responses={200: UserSerializer, **errors(400, 404, 409)},
    ),
    partial_update=extend_schema(
        summary="Change a user", request=UserUpdateSerializer, responses={200: UserSerializer, **errors(400, 404, 409)}
    ),
    destroy=extend_schema(
        summary="Deactivate a user (kept for history; PATCH is_active=true restores)",
        responses={204: None, **errors(400, 404)},
    ),
)
@extend_schema(tags=["users"], parameters=[ORG_SCOPE_PARAMETER])
class UserViewSet(BifrostViewSet):
    queryset = UserModel.objects.all()
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    ordering_fields = ["email", "name", "created_at", "last_login", "is_active"]
    ordering = ["email"]
    http_method_names = _CRUD_HTTP

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return UserUpdateSerializer
        return UserSerializer

    def _organization(self, data, *, required_in_scope: bool):
        """The organization named by `organization_id`, checked against the request scope."""
        scope_org = self.scope_organization
        if "organization_id" not in data:
            return scope_org if required_in_scope else None
        organization_id = data["organization_id"]
        if scope_org is not None and organization_id != scope_org.id:
            raise exceptions.ValidationError(
                {"organization_id": ["In an organization scope, users belong to that organization; use GLOBAL scope."]}
            )
        if organization_id is None:
            return None
        organization = Organization.objects.filter(id=organization_id, is_active=True).first()
        if organization is None:
            raise exceptions.NotFound(f"Organization {organization_id} does not exist or is inactive.")
        return organization

    def perform_create(self, serializer):
        data = serializer.validated_data
        if self.scope_organization is not None and data.get("user_type") == UserType.PLATFORM:
            raise exceptions.ValidationError({"user_type": ["Create PLATFORM users in GLOBAL scope."]})
        serializer.instance = services.user_create(
            email=data["email"],
            name=data.get("name", ""),
            user_type=data.get("user_type"),
            organization=self._organization(data, required_in_scope=True),
            is_platform_admin=data.get("is_platform_admin", False),
            is_active=data.get("is_active", True),
            password=data.get("password") or None,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "organization_id" in data:
            data["organization"] = self._organization(data, required_in_scope=False)
            data.pop("organization_id")
        serializer.instance = services.user_update(user=serializer.instance, data=data, by=self.request.user)

    def perform_destroy(self, instance):
        services.user_deactivate(user=instance, by=self.request.user)

    @extend_schema(
        summary="The roles a user holds", responses={200: RoleBriefSerializer(many=True), **errors(400, 404)}
    )
    @action(detail=True, methods=["get"], url_path="roles", filter_backends=[], pagination_class=None)
    def roles(self, request, pk=None):
        user = self.get_object()
        roles = Role.objects.filter(user_roles__user=user).order_by("name")
        return Response(RoleBriefSerializer(roles, many=True).data)

    @extend_schema(
        summary="Set a user's password", request=PasswordSerializer, responses={204: None, **errors(400, 404)}
    )
    @action(detail=True, methods=["post"], url_path="password", filter_backends=[], pagination_class=None)
    def password(self, request, pk=None):
        user = self.get_object()
        serializer = PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_set_password(user=user, password=serializer.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


USER_ID_PARAMETER = OpenApiParameter("user_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
FORM_ID_PARAMETER = OpenApiParameter("form_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(
        summary="List roles in scope (organization rows and GLOBAL rows)",
        responses={200: RoleSerializer(many=True), **errors(400, 404)},
    ),
    create=extend_schema(
        summary="Create a role in the current scope", responses={201: RoleSerializer, **errors(400, 404, 409)}
    ),
    retrieve=extend_schema(summary="Get a role", responses={200: RoleSerializer, **errors(400, 404)}),
    update=extend_schema(summary="Replace a role", responses={200: RoleSerializer, **errors(400, 404, 409)}),
    partial_update=extend_schema(summary="Change a role", responses={200: RoleSerializer, **errors(400, 404, 409)}),
    destroy=extend_schema(
        summary="Delete a role (and its memberships and form grants)", responses={204: None, **errors(400, 404)}
    ),
)
@extend_schema(tags=["roles"], parameters=[ORG_SCOPE_PARAMETER])
class RoleViewSet(BifrostViewSet):
    """Roles grant ORG users access to forms. Membership and form grants of a GLOBAL role are
    changed in GLOBAL scope (like every other write to a GLOBAL row)."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_class = RoleFilterSet
    ordering_fields = ["name", "created_at", "is_active"]
    ordering = ["name", "id"]
    http_method_names = _CRUD_HTTP

    def scoped_queryset(self, queryset):
        return super().scoped_queryset(queryset).annotate(user_count=Count("user_roles", distinct=True))

    def perform_create(self, serializer):
        role = services.role_create(organization=self.scope_organization, **serializer.validated_data)
        role.user_count = 0  # a new role has no members yet
        serializer.instance = role

    def perform_update(self, serializer):
        serializer.instance = services.role_update(role=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        services.role_delete(role=instance)

    def _visible_users(self):
        return UserModel.objects.for_scope(self.scope)

    def _visible_forms(self):
        from forms_app.models import Form

        return Form.objects.for_scope(self.scope)

    @extend_schema(
        methods=["GET"],
        summary="The role's members (those visible in the current scope)",
        responses={200: RoleMemberSerializer(many=True), **errors(400, 404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Give the role to users",
        request=UserIdsSerializer,
        responses={200: RoleMemberSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get", "post"], url_path="users", filter_backends=[], pagination_class=None)
    def users(self, request, pk=None):
        role = self.get_object()
        if request.method == "POST":
            serializer = UserIdsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            services.role_users_add(
                role=role,
                user_ids=serializer.validated_data["user_ids"],
                candidates=self._visible_users(),
                by=request.user,
            )
        members = self._visible_users().filter(user_roles__role=role).order_by("email")
        return Response(RoleMemberSerializer(members, many=True).data)

    @extend_schema(
        summary="Take the role away from a user",
        parameters=[USER_ID_PARAMETER],
        responses={204: None, **errors(400, 404)},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"users/(?P<user_id>[^/.]+)",
        filter_backends=[],
        pagination_class=None,
    )
    def remove_user(self, request, pk=None, user_id=None):
        role = self.get_object()
        user = _find(self._visible_users(), user_id, "User")
        services.role_user_remove(role=role, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="The forms this role grants (those visible in the current scope)",
        responses={200: RoleFormSerializer(many=True), **errors(400, 404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Grant the role access to forms",
        request=FormIdsSerializer,
        responses={200: RoleFormSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get", "post"], url_path="forms", filter_backends=[], pagination_class=None)
    def forms(self, request, pk=None):
        role = self.get_object()
        if request.method == "POST":
            serializer = FormIdsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            services.role_forms_add(
                role=role,
                form_ids=serializer.validated_data["form_ids"],
                candidates=self._visible_forms(),
                by=request.user,
            )
        forms = self._visible_forms().filter(form_roles__role=role).order_by("name")
        return Response(RoleFormSerializer(forms, many=True).data)

    @extend_schema(
        summary="Revoke the role's access to a form",
        parameters=[FORM_ID_PARAMETER],
        responses={204: None, **errors(400, 404)},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"forms/(?P<form_id>[^/.]+)",
        filter_backends=[],
        pagination_class=None,
    )
    def remove_form(self, request, pk=None, form_id=None):
        role = self.get_object()
        form = _find(self._visible_forms(), form_id, "Form")
        services.role_form_remove(role=role, form=form)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _find(queryset, object_id, label: str):
    import uuid

    try:
        object_id = uuid.UUID(str(object_id))
    except ValueError:
        raise exceptions.NotFound(f"{label} not found.") from None
    obj = queryset.filter(id=object_id).first()
    if obj is None:
        raise exceptions.NotFound(f"{label} not found.")
    return obj


# --- personal API tokens (DESIGN §17) ---

from accounts.api import schema as _schema  # noqa: E402,F401  (registers the personal-token scheme)
from accounts.api.serializers import (  # noqa: E402
    PersonalTokenCreatedSerializer,
    PersonalTokenCreateSerializer,
    PersonalTokenSerializer,
)
from accounts.models import PersonalToken  # noqa: E402


class PersonalTokenListView(APIView):
    """Any signed-in user manages their own tokens; nobody sees another user's."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        responses={200: PersonalTokenSerializer(many=True), **errors(401)},
        tags=["auth"],
        summary="Your personal API tokens (masked), newest first",
    )
    def get(self, request):
        tokens = PersonalToken.objects.filter(user=request.user).order_by("-created_at")
        return Response(PersonalTokenSerializer(tokens, many=True).data)

    @extend_schema(
        request=PersonalTokenCreateSerializer,
        responses={201: PersonalTokenCreatedSerializer, **errors(400, 401)},
        tags=["auth"],
        summary="Create a personal API token (the raw token is returned this once)",
    )
    def post(self, request):
        serializer = PersonalTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.personal_token_create(user=request.user, **serializer.validated_data)
        data = PersonalTokenCreatedSerializer(created.token).data
        data["token"] = created.raw_token
        return Response(data, status=status.HTTP_201_CREATED)


class PersonalTokenDetailView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        responses={204: None, **errors(401, 404)}, tags=["auth"], summary="Revoke one of your personal API tokens"
    )
    def delete(self, request, token_id):
        token = _find(PersonalToken.objects.filter(user=request.user).select_related("user"), token_id, "Token")
        services.personal_token_revoke(token=token, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- MFA and password (DESIGN §17) ---

from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts import mfa  # noqa: E402
from accounts.api.serializers import (  # noqa: E402
    MFACompleteSerializer,
    MFAStatusSerializer,
    MFATokenOptionalSerializer,
    PasswordChangeSerializer,
    RecoveryCodesSerializer,
    TotpConfirmSerializer,
    TotpEnrolmentSerializer,
)


def mfa_actor(request, data) -> tuple[object, bool]:
    """The user enrolling: the signed-in caller, or the user of a set-up `mfa_token` (sign-in not
    finished). The flag says whether it came from an mfa_token."""
    if request.user and request.user.is_authenticated:
        return request.user, False
    token = data.get("mfa_token") if hasattr(data, "get") else None
    if not token or not isinstance(token, str):
        raise exceptions.NotAuthenticated("Sign in, or send the mfa_token of your sign-in.")
    return mfa.mfa_token_user(token, purposes=(mfa.PURPOSE_SETUP,)), True


class MFAView(BearerChallengeMixin, APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def _is_post(self) -> bool:
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_authenticators(self):
        if self._is_post():
            return []  # the second step of a sign-in: only the mfa_token counts
        return super().get_authenticators()

    def get_throttles(self):
        return super().get_throttles() if self._is_post() else []

    @extend_schema(
        request=MFACompleteSerializer,
        responses={200: TokenPairSerializer, **errors(400, 401, 429)},
        tags=["auth"],
        summary="Finish a sign-in with a TOTP code, a recovery code or a passkey",
    )
    def post(self, request):
        serializer = MFACompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        from accounts.passkeys import rp_id_for

        pair = mfa.mfa_complete(ip=client_ip(request), rp_id=rp_id_for(request), **serializer.validated_data)
        return Response(pair.as_response())

    @extend_schema(responses={200: MFAStatusSerializer, **errors(401)}, tags=["auth"], summary="Your second factors")
    def get(self, request):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        from accounts.models import RecoveryCode

        return Response(
            {
                "methods": mfa.user_methods(request.user),
                "required": mfa.mfa_required_for(request.user),
                "recovery_codes_left": RecoveryCode.objects.filter(user=request.user, used_at__isnull=True).count(),
            }
        )


def _fresh_pair_for(request, user, via_mfa_token: bool) -> dict:
    """Turning MFA on ends the user's sessions: a caller that signed in with a JWT (or is finishing a
    sign-in with an mfa_token) gets a new pair; the browser session that made the change is kept."""
    if not via_mfa_token and request.auth is None and request.user.is_authenticated:
        from django.contrib.auth import update_session_auth_hash

        user.refresh_from_db(fields=["token_version"])
        update_session_auth_hash(request, user)
        return {}
    if via_mfa_token or isinstance(request.auth, AccessToken):
        from accounts.services import tokens_issue

        return tokens_issue(user=user).as_response()
    return {}


class TotpView(BearerChallengeMixin, APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=MFATokenOptionalSerializer,
        responses={200: TotpEnrolmentSerializer, **errors(401, 409)},
        tags=["auth"],
        summary="Start setting up an authenticator app (secret, otpauth URI, QR code)",
    )
    def post(self, request):
        user, _ = mfa_actor(request, request.data)
        return Response(mfa.totp_begin(user=user).as_response())

    @extend_schema(responses={204: None, **errors(400, 401, 404)}, tags=["auth"], summary="Remove the authenticator")
    def delete(self, request):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        mfa.totp_remove(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpConfirmView(BearerChallengeMixin, APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=TotpConfirmSerializer,
        responses={200: RecoveryCodesSerializer, **errors(400, 401, 429)},
        tags=["auth"],
        summary="Confirm the authenticator with a code: MFA is on; 10 recovery codes (shown once)",
    )
    def post(self, request):
        user, via_token = mfa_actor(request, request.data)  # who first: an anonymous call is a 401
        serializer = TotpConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = mfa.totp_confirm(user=user, code=serializer.validated_data["code"], ip=client_ip(request))
        if via_token:
            mfa.sign_in_finish(user=user, key=None, method="totp_enrolment")
        return Response({"recovery_codes": codes, **_fresh_pair_for(request, user, via_token)})


class RecoveryCodesView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        request=None,
        responses={200: RecoveryCodesSerializer, **errors(400, 401)},
        tags=["auth"],
        summary="A new set of 10 recovery codes (the old ones stop working)",
    )
    def post(self, request):
        return Response({"recovery_codes": mfa.recovery_codes_regenerate(user=request.user)})


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticatedUser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer, **errors(400, 401, 429)},
        tags=["auth"],
        summary="Change your password (ends your sessions; a JWT caller gets a new pair)",
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_change(user=request.user, ip=client_ip(request), **serializer.validated_data)
        return Response(_fresh_pair_for(request, request.user, False) or {"detail": "Password changed."})


# --- passkeys (DESIGN §17) ---

from accounts import passkeys  # noqa: E402
from accounts.api.serializers import (  # noqa: E402
    PasskeyOptionsSerializer,
    PasskeyRegisteredSerializer,
    PasskeyRegisterSerializer,
    PasskeySerializer,
)
from accounts.models import Passkey  # noqa: E402


class PasskeyRegistrationOptionsView(BearerChallengeMixin, APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=MFATokenOptionalSerializer,
        responses={200: PasskeyOptionsSerializer, **errors(401)},
        tags=["auth"],
        summary="Options to create a passkey (navigator.credentials.create)",
    )
    def post(self, request):
        user, _ = mfa_actor(request, request.data)
        return Response(passkeys.registration_options(user=user, rp_id=passkeys.rp_id_for(request)))


class PasskeyAuthenticationOptionsView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=MFATokenOptionalSerializer,
        responses={200: PasskeyOptionsSerializer, **errors(400, 401)},
        tags=["auth"],
        summary="Options to sign in with a passkey (needs the mfa_token of the sign-in)",
    )
    def post(self, request):
        serializer = MFATokenOptionalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = serializer.validated_data.get("mfa_token", "")
        user = mfa.mfa_token_user(token, purposes=(mfa.PURPOSE_VERIFY,))
        return Response(passkeys.authentication_options(user=user, rp_id=passkeys.rp_id_for(request)))


class PasskeyListView(BearerChallengeMixin, APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: PasskeySerializer(many=True), **errors(401)}, tags=["auth"], summary="Your passkeys")
    def get(self, request):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return Response(PasskeySerializer(Passkey.objects.filter(user=request.user), many=True).data)

    @extend_schema(
        request=PasskeyRegisterSerializer,
        responses={201: PasskeyRegisteredSerializer, **errors(400, 401)},
        tags=["auth"],
        summary="Register a passkey (the first second factor turns MFA on and returns recovery codes)",
    )
    def post(self, request):
        user, via_token = mfa_actor(request, request.data)  # who first: an anonymous call is a 401
        serializer = PasskeyRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        passkey, codes = passkeys.passkey_register(
            user=user,
            name=data["name"],
            credential=data["credential"],
            state=data["state"],
            rp_id=passkeys.rp_id_for(request),
        )
        body = {"passkey": PasskeySerializer(passkey).data, "recovery_codes": codes}
        if codes:
            if via_token:
                mfa.sign_in_finish(user=user, key=None, method="passkey_enrolment")
            body.update(_fresh_pair_for(request, user, via_token))
        return Response(body, status=status.HTTP_201_CREATED)


class PasskeyDetailView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={204: None, **errors(400, 401, 404)}, tags=["auth"], summary="Remove one of your passkeys")
    def delete(self, request, passkey_id):
        passkey = _find(Passkey.objects.filter(user=request.user), passkey_id, "Passkey")
        passkeys.passkey_remove(user=request.user, passkey=passkey)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- single sign-on of an organization (DESIGN §17) ---

from accounts import sso as sso_services  # noqa: E402
from accounts.api.serializers import OrganizationSSOSerializer  # noqa: E402
from accounts.models import OrganizationSSO  # noqa: E402
from bifrost_site.api.viewsets import BifrostAPIView  # noqa: E402


@extend_schema(tags=["organizations"], parameters=[ORG_SCOPE_PARAMETER])
class OrganizationSSOView(BifrostAPIView):
    """`/api/organizations/{id}/sso`: platform admins; another scope's organization is 404."""

    def _organization(self, organization_id):
        return _find(Organization.objects.for_scope(self.scope), organization_id, "Organization")

    @extend_schema(
        summary="An organization's single sign-on", responses={200: OrganizationSSOSerializer, **errors(404)}
    )
    def get(self, request, organization_id):
        organization = self._organization(organization_id)
        sso = OrganizationSSO.objects.filter(organization=organization).first()
        if sso is None:
            raise exceptions.NotFound("This organization has no single sign-on.")
        return Response(OrganizationSSOSerializer(sso).data)

    @extend_schema(
        summary="Set up or change an organization's single sign-on (leave client_secret out to keep it)",
        request=OrganizationSSOSerializer,
        responses={200: OrganizationSSOSerializer, **errors(400, 404)},
    )
    def put(self, request, organization_id):
        organization = self._organization(organization_id)
        existing = OrganizationSSO.objects.filter(organization=organization).exists()
        serializer = OrganizationSSOSerializer(data=request.data, partial=existing)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "client_secret" not in request.data:
            data.pop("client_secret", None)
        sso = sso_services.organization_sso_save(organization=organization, data=data, by=request.user)
        return Response(OrganizationSSOSerializer(sso).data)

    @extend_schema(summary="Remove an organization's single sign-on", responses={204: None, **errors(404)})
    def delete(self, request, organization_id):
        organization = self._organization(organization_id)
        sso_services.organization_sso_delete(organization=organization, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- invitations (DESIGN §17) ---

from rest_framework import mixins  # noqa: E402

from accounts import invitations as invitation_services  # noqa: E402
from accounts.api.serializers import InvitationSerializer  # noqa: E402
from accounts.models import Invitation  # noqa: E402
from bifrost_site.api.viewsets import BifrostGenericViewSet  # noqa: E402


@extend_schema_view(
    list=extend_schema(
        summary="Pending invitations in scope (?status=all for every one)",
        responses={200: InvitationSerializer(many=True), **errors(400, 404)},
    ),
    create=extend_schema(
        summary="Invite someone: emails a single-use link valid 7 days",
        responses={201: InvitationSerializer, **errors(400, 404, 409)},
    ),
    retrieve=extend_schema(summary="An invitation", responses={200: InvitationSerializer, **errors(404)}),
    destroy=extend_schema(summary="Revoke a pending invitation", responses={204: None, **errors(400, 404)}),
)
@extend_schema(tags=["users"], parameters=[ORG_SCOPE_PARAMETER])
class InvitationViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    BifrostGenericViewSet,
):
    queryset = Invitation.objects.select_related("invited_by", "organization").prefetch_related("roles")
    serializer_class = InvitationSerializer
    ordering_fields = ["created_at", "email", "expires_at"]
    ordering = ["-created_at"]
    filter_backends: list = []

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("status") != "all":
            from django.utils import timezone

            queryset = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        return queryset.order_by("-created_at")

    def perform_create(self, serializer):
        data = serializer.validated_data
        scope_org = self.scope_organization
        organization_id = data.get("organization_id")
        if scope_org is not None:
            if organization_id not in (None, scope_org.id):
                raise exceptions.ValidationError(
                    {"organization_id": ["In an organization scope, invitations are to that organization."]}
                )
            organization_id = scope_org.id
        organization = None
        if organization_id is not None:
            organization = Organization.objects.filter(id=organization_id, is_active=True).first()
            if organization is None:
                raise exceptions.NotFound(f"Organization {organization_id} does not exist or is inactive.")
        invitation, _raw = invitation_services.invitation_create(
            email=data["email"],
            organization=organization,
            role_ids=data.get("role_ids") or [],
            is_platform_admin=data.get("is_platform_admin", False),
            by=self.request.user,
            base_url=self.request.build_absolute_uri("/"),
        )
        serializer.instance = invitation

    def perform_destroy(self, instance):
        invitation_services.invitation_revoke(invitation=instance, by=self.request.user)
