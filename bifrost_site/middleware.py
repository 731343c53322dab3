import re

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
