import logging

from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class ResilientScopedRateThrottle(ScopedRateThrottle):
    """Rate limits kept in Redis; if Redis is unreachable the request is let through (fail open)
    rather than turning into a 500 — the API keeps serving while /health reports degraded."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("rate limit store unreachable; allowing request to %s", request.path)
            return True
