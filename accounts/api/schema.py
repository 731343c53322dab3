"""OpenAPI description of the personal-token authentication (imported by accounts.api.views)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`bfp_…`, POST /api/auth/tokens) in `Authorization: Bearer`.",
        }
