import logging

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class FailOpenMixin:
    """Rate limits kept in Redis; if Redis is unreachable the request is let through (fail open)
    rather than turning into a 500 — the API keeps serving while /health reports degraded."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("rate limit store unreachable; allowing request to %s", request.path)
            return True


class ResilientScopedRateThrottle(FailOpenMixin, ScopedRateThrottle):
    pass


class RunRateThrottle(FailOpenMixin, UserRateThrottle):
    """Runs started per signed-in user (execute, form submit and startup): `RUN_RATE_PER_USER`, e.g.
    "60/min". Over it, a 429 whose `Retry-After` header and message say when to try again. Callers
    without a user are left to the view's other throttles (public forms: `PublicFormThrottle`)."""

    scope = "run"

    def get_rate(self):
        return settings.RUN_RATE_PER_USER

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
