from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    LoginSerializer,
    MeSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
)
from accounts.selectors import user_with_roles
from bifrost_site.api.permissions import BearerChallengeMixin, IsAuthenticatedUser
from bifrost_site.api.throttling import ResilientScopedRateThrottle as ScopedRateThrottle
from bifrost_site.middleware import client_ip
from orgs.models import Organization

ERROR = OpenApiResponse(description="Error: {error, message, details}")


class LoginView(BearerChallengeMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request={"application/json": LoginSerializer, "application/x-www-form-urlencoded": LoginSerializer},
        responses={200: TokenPairSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 429: ERROR},
        tags=["auth"],
        summary="Sign in with email and password",
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
        responses={201: MeSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        tags=["auth"],
        summary="Self-registration (development only)",
    )
    def post(self, request):
        if settings.ENVIRONMENT != "development":
            raise exceptions.PermissionDenied("Registration is only available in development.")
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = None
        if data.get("organization_id"):
            organization = Organization.objects.filter(id=data["organization_id"], is_active=True).first()
            if organization is None:
                raise exceptions.NotFound("Organization not found or inactive.")
        user = services.user_register(
            email=data["email"], password=data["password"], name=data.get("name", ""), organization=organization
        )
        return Response(MeSerializer(user_with_roles(user.id)).data, status=status.HTTP_201_CREATED)
