"""Bifrost's CSPMiddleware writes exactly the headers django-csp's own middleware writes, in every case."""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.decorators import csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from bifrost_site.middleware import CSPMiddleware

PLAIN = HttpResponse


@csp_update({"img-src": ["https://images.example"]})
def updated(request):
    return HttpResponse()


@csp_replace({"script-src": ["'self'", "https://cdn.example"]})
def replaced(request):
    return HttpResponse()


@csp_exempt()
def exempt(request):
    return HttpResponse()


@csp_exempt(REPORT_ONLY=True)
def exempt_report_only(request):
    return HttpResponse()


def uses_nonce(request):
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")


def not_found(request):
    return HttpResponse(status=404)


def headers_of(middleware_class, view, path="/api/workflows"):
    request = RequestFactory().get(path)
    middleware = middleware_class(view)
    response = middleware(request)
    return {name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}


REPORT_ONLY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "https://reports.example"]},
}


@pytest.mark.parametrize("view", [PLAIN, updated, replaced, exempt, exempt_report_only, uses_nonce, not_found])
@pytest.mark.parametrize("path", ["/api/workflows", "/admin/login/"])
@pytest.mark.parametrize("report_only", [None, REPORT_ONLY])
@pytest.mark.parametrize("debug", [False, True])
def test_same_headers_as_django_csp(settings, view, path, report_only, debug):
    settings.DEBUG = debug
    if report_only:
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = report_only
    ours = headers_of(CSPMiddleware, view, path)
    assert ours == headers_of(LibraryCSPMiddleware, view, path)
    if view is PLAIN and not debug:
        assert "default-src 'self'" in ours[HEADER]


@override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"script-src": ["'self'", NONCE]}})
def test_a_nonce_is_in_the_header_and_differs_per_request():
    assert "'nonce-" not in headers_of(CSPMiddleware, PLAIN)[HEADER]  # no nonce asked for: none sent
    first, second = headers_of(CSPMiddleware, uses_nonce), headers_of(CSPMiddleware, uses_nonce)
    assert "'nonce-" in first[HEADER]
    assert first[HEADER] != second[HEADER]


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    request = RequestFactory().get("/api/workflows")
    CSPMiddleware(PLAIN)(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_a_settings_change_takes_effect():
    before = headers_of(CSPMiddleware, PLAIN)[HEADER]
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert headers_of(CSPMiddleware, PLAIN)[HEADER] == "default-src 'none'"
    assert headers_of(CSPMiddleware, PLAIN)[HEADER] == before
