"""OpenAPI: Bifrost's authentication schemes (loaded with the URLconf) and the AutoSchema
that documents the error answers every view gives by construction."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse


class BifrostJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BifrostJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )


class BifrostSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CsrfSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class BifrostAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers every Bifrost view can give by construction.

    The fuzz suite (bifrost_site/tests/test_api_fuzz.py) fails on any status an operation does not
    document. Rather than repeating the same error codes on every `extend_schema`, the answers that
    come from the shared machinery are added here, so new endpoints document them automatically:

    - 400 on every operation: the input guard (bifrost_site/input_guard.py) refuses a NUL in any path or
      query string, and a NUL, a lone surrogate or too deep nesting in any JSON or form body;
    - 406 on every operation: DRF's content negotiation, for an `Accept` header no renderer satisfies;
    - 401 and 403 on every view that is not open to anonymous callers (authentication, permissions);
    - 400, 403 and 404 (and the `X-Organization-Id` header) on every scoped view: a malformed header is 400,
      another organization for an ORG user is 403, an unknown or inactive organization is 404;
    - 400 on every operation that takes a body (malformed JSON, validation) or filter parameters;
    - 404 on every operation with a path parameter;
    - 415 on every operation that takes a body (an unsupported Content-Type);
    - 429 on every throttled view.

    Each added code uses the shared `{error, message, details}` body. Codes an operation documents
    itself are left as they are.
    """

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_scoped_view():
            from bifrost_site.api.docs import ORG_SCOPE_PARAMETER

            names = {getattr(p, "name", None) for p in parameters}
            if ORG_SCOPE_PARAMETER.name not in names:
                parameters.append(ORG_SCOPE_PARAMETER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        from bifrost_site.api.docs import ErrorSerializer

        responses = super()._get_response_bodies(direction=direction)
        for code in sorted(self._implied_error_codes()):
            key = str(code)
            if key not in responses:
                responses[key] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description="Error: {error, message, details}"),
                    key,
                    direction=direction,
                )
        return dict(sorted(responses.items()))

    # --- what the shared machinery can answer ---

    def _implied_error_codes(self) -> set[int]:
        codes: set[int] = {400, 406}  # the input guard and content negotiation, on any request
        if not self._is_open_to_anonymous():
            codes |= {401, 403}
        if self._is_scoped_view() and not self._is_open_to_anonymous():
            codes |= {400, 403, 404}
        if self.method in ("POST", "PUT", "PATCH") and self._has_request_body():
            codes |= {400, 415}
        if self.method == "GET" and self._has_filters():
            codes.add(400)
        if "{" in self.path:
            codes.add(404)
        if getattr(self.view, "throttle_classes", None):
            codes.add(429)
        return codes

    def _is_open_to_anonymous(self) -> bool:
        from rest_framework.permissions import AllowAny

        permissions = self.view.get_permissions()
        return bool(permissions) and all(isinstance(p, AllowAny) for p in permissions)

    def _is_scoped_view(self) -> bool:
        from bifrost_site.api.viewsets import ScopedAPIMixin

        return isinstance(self.view, ScopedAPIMixin)

    def _has_request_body(self) -> bool:
        try:
            return self.get_request_serializer() is not None
        except Exception:
            return True

    def _has_filters(self) -> bool:
        return bool(self._is_list_view() and getattr(self.view, "filterset_class", None)) or bool(
            self._is_list_view() and getattr(self.view, "filterset_fields", None)
        )
