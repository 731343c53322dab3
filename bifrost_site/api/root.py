"""`GET /api/`: the API root, a JSON (or, where DRF's browsable renderer is on, HTML) map of the API's
endpoints, for platform admins. The one API path with a trailing slash (DESIGN §6: README's "browsable API").

The map is generated from the URLconf: every route under /api/ without a path parameter, so a new
endpoint appears here without being listed by hand."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, reverse
from django.urls.resolvers import RegexPattern
from rest_framework.response import Response
from rest_framework.routers import APIRootView as DRFAPIRootView

_FIXED_PATH = re.compile(r"[\w/-]*")


def _fixed(pattern) -> str | None:
    """The path a route or (a router's) regex pattern matches, or None when it has parameters."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$")
    return text if _FIXED_PATH.fullmatch(text) else None


def _routes(patterns, prefix: str = "") -> list[str]:
    found = []
    for entry in patterns:
        part = _fixed(entry.pattern)
        if part is None:  # a detail or action path: the root lists collections and fixed paths
            continue
        route = prefix + part
        if isinstance(entry, URLResolver):
            found.extend(_routes(entry.url_patterns, route))
        elif isinstance(entry, URLPattern) and route:
            found.append(route)
    return list(dict.fromkeys(found))


class APIRootView(DRFAPIRootView):
    """The API's endpoints, by path (relative to /api/), each with its absolute URL."""

    def get_view_name(self):
        return "Bifrost API"

    def get(self, request, *args, **kwargs):
        from bifrost_site.api import urls

        base = reverse("api-root")
        endpoints = {route: request.build_absolute_uri(base + route) for route in _routes(urls.urlpatterns)}
        endpoints["schema"] = request.build_absolute_uri(reverse("schema"))
        endpoints["docs"] = request.build_absolute_uri(reverse("docs"))
        return Response(endpoints)
