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
