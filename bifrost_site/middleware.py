import functools
import re

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import SimpleLazyObject, empty
from rest_framework.settings import api_settings

from bifrost_site import request_context

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_ip(request) -> str | None:
    """The client's address for audit entries and the login lock-out.

    Behind `NUM_PROXIES` reverse proxies it is the address the outermost of them saw: the entry that
    many places from the right of `X-Forwarded-For` (entries further left are whatever the client
    sent). This is the rule of DRF's throttles (the same setting), so a lock-out, an audit entry and a
    rate limit count the same client. Without proxies, or without the header, it is REMOTE_ADDR.
    """
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if proxies > 0 else ""
    addresses = [address.strip() for address in forwarded.split(",") if address.strip()]
    if addresses:
        return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID, echoed back) and exposes it to services and audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else request_context.new_request_id()
        request.request_id = request_id
        context = request_context.RequestContext(
            request_id=request_id,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:500],
        )
        request.bifrost_context = context
        with request_context.activate(context):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class SyncChainMiddleware:
    """Last in MIDDLEWARE and sync only: under ASGI (daphne) Django then runs the whole chain in the request's thread.

    Django adapts each middleware to the mode of the one inside it. Without this, the middleware after
    RequestContextMiddleware (sessions, CSRF, auth, messages, ...) ran on the event loop, and each
    `MiddlewareMixin` then went back to a thread for `process_request` and again for `process_response`:
    16 `sync_to_async` calls per request instead of 6. Each switch waits for the event loop and the GIL,
    which on a busy machine made the same list request several milliseconds slower under daphne than
    under gunicorn. Under WSGI this is a plain pass-through.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """django.contrib.messages' middleware, with each request's message storage made on first use.

    Django's makes the storage (a cookie storage with its signer, and a session storage) for every
    request and hands it the response: 2.8% of an API request's instructions, for messages that
    only the admin sends. Here `request._messages` is made when something reads it
    (`messages.add_message`, `get_messages`, the template context processor), and the response of a
    request that never did is left alone, as Django's storage leaves it when nothing was read or added.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


# What a view can set to change the policy of its own response (django-csp's decorators).
_PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


@functools.cache
def _settings_policies() -> tuple[tuple[str, str, tuple[str, ...], str], ...]:
    """(header, value, excluded path prefixes, exemption attribute) for each policy the settings define."""
    policies = []
    for header, setting, report_only, exempt_attribute in (
        (HEADER, "CONTENT_SECURITY_POLICY", False, "_csp_exempt"),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True, "_csp_exempt_ro"),
    ):
        value = build_policy(report_only=report_only)
        if value:
            prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            policies.append((header, value, prefixes, exempt_attribute))
    return tuple(policies)


@receiver(setting_changed)
def _forget_settings_policies(*, setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


class CSPMiddleware(LibraryCSPMiddleware):
    """django-csp's middleware, with the policy from settings built once instead of on every response.

    django-csp rebuilds the header string from settings for each response: about 6% of the CPU of an
    API request (counted with cachegrind). A response whose view changed its policy (django-csp's
    decorators), a request that used a nonce, and a debug error page still go through django-csp itself.
    """

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in _PER_RESPONSE_POLICY)
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        for header, value, excluded_prefixes, exempt_attribute in _settings_policies():
            exempt = getattr(response, exempt_attribute, False) is not False
            if header not in response and not exempt and not request.path_info.startswith(excluded_prefixes):
                response[header] = value
        # as django-csp does: a nonce asked for after the header is written is an error, not a silent no-op
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
