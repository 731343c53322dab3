"""Every /api/ and /auth/ endpoint is covered by the tenancy/permission matrix (DESIGN §12).

The URL conf is walked (`get_resolver()`), every (route, method) is listed, and each must be
declared by some `ResourceMatrix` subclass in a `*/tests/test_matrix*.py` module, or be in
`NOT_IN_MATRIX` below with the reason it is special. A new endpoint therefore fails this test
until it is declared, and a stale allow-list entry fails it too.
"""

from __future__ import annotations

import importlib
import re
import uuid
from pathlib import Path

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from bifrost_site.testing.matrix import ResourceMatrix

PREFIXES = ("/api/", "/auth/")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Endpoints that are intentionally outside the generated matrix, each with its reason and the tests
# that cover it instead. Keys are "METHOD /path/{param}" as `_endpoints()` prints them.
NOT_IN_MATRIX = {
    # The OpenAPI document is public by design (the Swagger page at /docs reads it).
    "GET /api/schema": "public; bifrost_site/tests/test_openapi_and_pages.py",
    # The API root: a map of the endpoints, no organization's objects; platform admins only.
    "GET /api/": "a map of endpoints, admin only; bifrost_site/tests/test_api_root.py",
    # Webhooks authenticate with a workflow key (X-Bifrost-Key) or are public per workflow; there is
    # no user and no scope. 401 without a valid key, throttling and methods: workflows/tests/test_keys.py.
    "GET /api/endpoints/{workflow}": "workflow-key auth; workflows/tests/test_keys.py",
    "POST /api/endpoints/{workflow}": "workflow-key auth; workflows/tests/test_keys.py",
    "PUT /api/endpoints/{workflow}": "workflow-key auth; workflows/tests/test_keys.py",
    "DELETE /api/endpoints/{workflow}": "workflow-key auth; workflows/tests/test_keys.py",
    # Sign-in endpoints: anonymous by nature (login, refresh, register) or about the caller only
    # (me, logout), never about an organization's objects. accounts/tests/test_auth.py.
    "POST /auth/login": "anonymous by nature; accounts/tests/test_auth.py",
    "POST /auth/refresh": "anonymous by nature (refresh token); accounts/tests/test_auth.py",
    "POST /auth/logout": "the caller's own tokens; accounts/tests/test_auth.py",
    "GET /auth/me": "the caller's own profile; accounts/tests/test_auth.py",
    "POST /auth/register": "development only, anonymous; accounts/tests/test_auth.py",
    # Identity self-service (DESIGN §17): the caller's own tokens, factors and password, never an organization's
    # objects. 401 for anonymous callers on every method and 404 for another user's rows:
    # accounts/tests/test_matrix.py (SELF_SERVICE); each flow in test_personal_tokens, test_mfa, test_passkeys.
    "GET /api/auth/tokens": "the caller's own tokens; accounts/tests/test_personal_tokens.py",
    "POST /api/auth/tokens": "the caller's own tokens; accounts/tests/test_personal_tokens.py",
    "DELETE /api/auth/tokens/{token_id}": "the caller's own tokens; accounts/tests/test_personal_tokens.py",
    "GET /auth/mfa": "the caller's own factors; accounts/tests/test_mfa.py",
    "POST /auth/mfa": "anonymous by nature (mfa_token); accounts/tests/test_mfa.py",
    "POST /auth/mfa/totp": "the caller's own factors; accounts/tests/test_mfa.py",
    "DELETE /auth/mfa/totp": "the caller's own factors; accounts/tests/test_mfa.py",
    "POST /auth/mfa/totp/confirm": "the caller's own factors; accounts/tests/test_mfa.py",
    "POST /auth/mfa/recovery-codes": "the caller's own factors; accounts/tests/test_mfa.py",
    "GET /auth/mfa/passkeys": "the caller's own passkeys; accounts/tests/test_passkeys.py",
    "POST /auth/mfa/passkeys": "the caller's own passkeys; accounts/tests/test_passkeys.py",
    "POST /auth/mfa/passkeys/registration-options": "the caller's own passkeys; accounts/tests/test_passkeys.py",
    "POST /auth/mfa/passkeys/authentication-options": "anonymous by nature (mfa_token); test_passkeys.py",
    "DELETE /auth/mfa/passkeys/{passkey_id}": "the caller's own passkeys; accounts/tests/test_passkeys.py",
    "POST /auth/password": "the caller's own password; accounts/tests/test_mfa.py",
}

# Values tried for a `{placeholder}` of a declared URL until one resolves.
SAMPLES = (str(uuid.UUID(int=1)), "sample_name")


def _pretty(route: str) -> str:
    """`api/^secrets/(?P<name>[A-Za-z0-9_-]+)$` / `api/workflows/<str:name>` → `/api/secrets/{name}`."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\.", ".")


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route
        return sorted(m.upper() for m in actions if m.upper() in HTTP_METHODS)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return ["GET"]
    return sorted(m for m in HTTP_METHODS if hasattr(view_class, m.lower()))


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _endpoints() -> dict[tuple, str]:
    """(callback, METHOD) → "METHOD /path" for every endpoint under PREFIXES."""
    found = {}
    for route, callback in _walk(get_resolver().url_patterns):
        path = _pretty(route)
        if not path.startswith(PREFIXES):
            continue
        for method in _methods(callback):
            found[(callback, method)] = f"{method} {path}"
    return found


def _matrix_classes() -> list[type[ResourceMatrix]]:
    root = Path(settings.BASE_DIR)
    for module in sorted(root.glob("*/tests/test_matrix*.py")):
        importlib.import_module(".".join(module.relative_to(root).with_suffix("").parts))
    classes, pending = [], list(ResourceMatrix.__subclasses__())
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    return [c for c in classes if c.__name__.startswith("Test")]


def _resolve_template(template: str, by_name: bool = False):
    """The view a declared URL reaches; `by_name`: its lookup is a name, so try the name sample first
    (`/api/schedules/{lookup}` is the deprecated by-workflow route for a name, the schedule's own for an id)."""
    names = re.findall(r"{(\w+)}", template)
    for sample in reversed(SAMPLES) if by_name else SAMPLES:
        url = template.format(**dict.fromkeys(names, sample))
        try:
            return resolve(url).func
        except Resolver404:
            continue
    raise AssertionError(f"a matrix declares {template!r}, which no route answers")


def _declared() -> dict[tuple, str]:
    declared = {}
    for cls in _matrix_classes():
        for case in cls().cases():
            by_name = getattr(cls, "lookup", "id") not in ("id", "pk")
            declared[(_resolve_template(case.url, by_name), case.method)] = cls.__name__
    return declared


def test_every_endpoint_is_in_the_matrix_or_allow_listed():
    endpoints = _endpoints()
    declared = _declared()
    missing = sorted(name for key, name in endpoints.items() if key not in declared and name not in NOT_IN_MATRIX)
    assert not missing, "endpoints without a ResourceMatrix declaration (add one, or allow-list with a reason):\n" + (
        "\n".join(missing)
    )


def test_matrix_declarations_name_real_methods():
    """A declared (route, method) the route does not answer would make its matrix cases vacuous."""
    endpoints = _endpoints()
    unknown = sorted(f"{cls}: {key[1]} on {key[0]}" for key, cls in _declared().items() if key not in endpoints)
    assert not unknown, "\n".join(unknown)


def test_allow_list_has_no_stale_or_matrix_covered_entries():
    endpoints = _endpoints()
    names = set(endpoints.values())
    stale = sorted(set(NOT_IN_MATRIX) - names)
    assert not stale, f"allow-listed endpoints that no longer exist: {stale}"
    declared = _declared()
    both = sorted(name for key, name in endpoints.items() if key in declared and name in NOT_IN_MATRIX)
    assert not both, f"allow-listed endpoints that a matrix covers (remove them from NOT_IN_MATRIX): {both}"


def test_the_walk_sees_the_api():
    """Guard against a walk that silently finds nothing."""
    names = set(_endpoints().values())
    assert {"GET /api/organizations", "GET /api/secrets/{name}", "POST /api/workflows/{name}/execute"} <= names
