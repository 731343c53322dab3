"""The security baseline of docs/security.md: headers, CSP, CSRF, CORS, JWT, error bodies."""

import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.services import tokens_issue

pytestmark = pytest.mark.django_db


# --- a URLconf with views that fail the way real bugs do (used by the 500 tests) ---


def _broken_sql_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_column FROM no_such_table_for_the_test WHERE id = 42")
    return HttpResponse("unreachable")


class _BrokenApiView(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError("internal detail: password=hunter2 at /srv/bifrost/secret.py")


urlpatterns = [
    path("api/test-broken-sql", _broken_sql_view),
    path("api/test-broken-drf", _BrokenApiView.as_view()),
    path("test-broken-page/", _broken_sql_view),
    path("", include("bifrost_site.urls")),
]
handler404 = "bifrost_site.views.not_found"
handler500 = "bifrost_site.views.server_error"


# --- headers ---


@pytest.mark.parametrize("url", ["/login/", "/docs", "/admin/login/", "/health/live", "/api/organizations"])
def test_security_headers_on_pages_and_api(url):
    response = Client().get(url)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no inline script, no CDN
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert set(directives["connect-src"]) == {"'self'", "ws:", "wss:"}  # the log viewer's WebSocket


def test_no_hsts_unless_configured_and_https():
    assert "Strict-Transport-Security" not in Client().get("/login/", secure=True)


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_when_configured():
    response = Client().get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in Client().get("/login/")  # never on plain HTTP


def test_swagger_ui_is_served_from_our_origin_without_inline_script():
    html = Client().get("/docs").content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg" not in html and "http" not in html.split("<body>")[1]
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "<script>" not in html  # every script has a src (CSP script-src 'self')
    script = Client().get("/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_pages_carry_no_inline_script(member, org):
    from executions.tests.factories import ExecutionFactory

    execution = ExecutionFactory(organization=org, executed_by=member)
    client = Client()
    client.force_login(member)
    for url in ["/login/", f"/executions/{execution.id}/", "/executions/"]:
        html = client.get(url).content.decode()
        for tag in html.split("<script")[1:]:
            head = tag.split(">", 1)[0]
            assert "src=" in head or 'type="application/json"' in head, (url, head)


# --- CSRF on session-authenticated writes ---


def test_session_write_without_csrf_token_is_403(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/api/organizations", {"name": "Via session"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_session_write_with_csrf_token_is_accepted(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/logout/").status_code == 200  # a page with a form: sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/organizations", {"name": "Via session"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


def test_bearer_writes_need_no_csrf_token(admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=admin_user).access_token}")
    assert client.post("/api/organizations", {"name": "Via token"}, format="json").status_code == 201


# --- CORS: off unless CORS_ALLOWED_ORIGINS names an origin ---


def test_cors_is_off_by_default(admin_user):
    assert settings.CORS_ALLOWED_ORIGINS == []
    client = Client()
    token = tokens_issue(user=admin_user).access_token
    response = client.get(
        "/api/organizations", HTTP_ORIGIN="https://evil.example", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(
        "/api/organizations",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Credentials" not in preflight


# --- JWT: only the configured algorithm, audience and issuer checked ---


def _claims_of_a_valid_token(user) -> dict:
    token = tokens_issue(user=user).access_token
    return jwt.decode(token, options={"verify_signature": False})


def _me(token: str) -> int:
    return APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_a_valid_token_works(member):
    claims = _claims_of_a_valid_token(member)
    assert claims["aud"] == settings.SIMPLE_JWT["AUDIENCE"] and claims["iss"] == settings.SIMPLE_JWT["ISSUER"]
    assert _me(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")) == 200


def test_alg_none_is_refused(member):
    claims = _claims_of_a_valid_token(member)
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert unsigned.endswith(".")
    assert _me(unsigned) == 401
    assert _me(unsigned + "c2lnbmF0dXJl") == 401


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_another_hmac_algorithm_is_refused_even_with_the_right_key(member):
    claims = _claims_of_a_valid_token(member)
    assert _me(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS512")) == 401


@pytest.mark.parametrize("claim, value", [("iss", "someone-else"), ("aud", "another-service")])
def test_wrong_issuer_or_audience_is_refused(member, claim, value):
    claims = {**_claims_of_a_valid_token(member), claim: value}
    assert _me(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")) == 401


def test_token_without_issuer_is_refused(member):
    claims = _claims_of_a_valid_token(member)
    del claims["iss"]
    assert _me(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")) == 401


# --- no stack trace or SQL in an error answer in production ---

LEAKS = ["Traceback", "no_such_table", "SELECT", "secret_column", "hunter2", "/srv/bifrost", 'File "']


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
@pytest.mark.parametrize("url", ["/api/test-broken-sql", "/api/test-broken-drf"])
def test_api_500_body_is_generic(url):
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "server_error", "message": "Internal server error.", "details": {}}
    body = response.content.decode()
    assert not any(leak in body for leak in LEAKS)


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_page_500_is_generic():
    response = Client(raise_request_exception=False).get("/test-broken-page/")
    assert response.status_code == 500
    body = response.content.decode()
    assert not any(leak in body for leak in LEAKS)


def test_debug_is_off_in_the_test_settings_and_errors_from_the_api_are_json(admin_client):
    assert settings.DEBUG is False
    response = admin_client.post("/api/organizations", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message", "details"}
    assert "Traceback" not in response.content.decode()


# --- passwords ---


def test_weak_passwords_are_refused_by_the_validators(admin_client, org):
    for weak in ["password", "12345678", "short"]:
        response = admin_client.post(
            "/api/users",
            {"email": "weak@contoso.test", "name": "Weak", "password": weak, "organization_id": str(org.id)},
            format="json",
        )
        assert response.status_code == 400, weak
        assert "password" in response.json()["details"]
