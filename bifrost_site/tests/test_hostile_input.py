"""Hostile input on every endpoint is a 400 naming what was refused, never a 500, and stores nothing (issue 18 #5).

The endpoints are not listed here: they are read from the URL resolver, so a new one is covered when it
is routed. Each JSON endpoint (every DRF view) gets every hostile class in each method it answers, as a
platform admin (the caller that reaches the most code), against objects that exist (the fuzz suite's
world, so detail routes reach their body and are not stopped by a 404). Every route, pages included,
gets a NUL in its path and in its query string.
"""

import json
import re

import pytest
from django.apps import apps
from django.db import connection
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.views import APIView

from bifrost_site.input_guard import DEPTH_MESSAGE, MAX_DEPTH, NUL_MESSAGE, SURROGATE_MESSAGE
from bifrost_site.tests.test_api_fuzz import (  # noqa: F401  (org and fuzz_world are fixtures)
    EXECUTION_ID,
    FORM_ID,
    KNOWN_PATH_VALUES,
    WORKFLOW_NAME,
    fuzz_world,
    org,
)
from conftest import client_for

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch", "delete")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(actions)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return [m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)]
    return ["get", "post"]


_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def _template(route: str) -> str:
    """`api/^forms/(?P<pk>[^/.]+)/submit$` -> `/api/forms/{pk}/submit`."""
    return "/" + _GROUP.sub(lambda m: "{%s}" % (m.group(1) or m.group(2)), route.replace("^", "").replace("$", ""))


def _routes():
    """(path template, is a DRF view, methods) for every route but the Django admin's (tested on its own)."""
    routes = []
    for route, callback in _walk(get_resolver().url_patterns):
        template = _template(route)
        if template.startswith("/admin/"):
            continue
        view_class = getattr(callback, "cls", None)
        is_api = view_class is not None and issubclass(view_class, APIView)
        routes.append((template, is_api, _methods(callback)))
    return routes


ROUTES = _routes()
JSON_OPERATIONS = [(method, template) for template, is_api, methods in ROUTES if is_api for method in methods]
BODY_OPERATIONS = [(method, template) for method, template in JSON_OPERATIONS if method in BODY_METHODS]


def _concrete(template: str) -> str:
    """The path with every parameter filled with an object the fuzz world holds (or a plausible name)."""
    prefixes = sorted((p for p in KNOWN_PATH_VALUES if template.startswith(p)), key=len, reverse=True)
    known = {**(KNOWN_PATH_VALUES[prefixes[0]] if prefixes else {})}
    known.setdefault("pk", known.get("id"))
    known.update({"execution_id": EXECUTION_ID, "form_id": known.get("form_id", FORM_ID)})
    return re.sub(r"\{(\w+)\}", lambda m: str(known.get(m.group(1)) or "fuzz_provider"), template)


def _row_counts() -> dict[str, int]:
    """Rows of every table, in one query: a refused request stores nothing anywhere."""
    tables = sorted({model._meta.db_table for model in apps.get_models() if model._meta.managed})
    with connection.cursor() as cursor:
        # the models' own table names, quoted; no input reaches this SQL
        counts = ", ".join(f"(SELECT count(*) FROM {connection.ops.quote_name(table)})" for table in tables)  # noqa: S608
        cursor.execute(f"SELECT {counts}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# Each class: (name, content type, body, the field the answer must name, the message).
JSON = "application/json"
NESTED_PAST_THE_LIMIT = '{"parameters": ' + _deep(MAX_DEPTH + 5) + "}"
NESTED_PAST_RECURSION = '{"username": ' + _deep(50_000) + "}"
HOSTILE_BODIES = [
    ("nul in a value", JSON, '{"form_data": {"note": "\\u0000"}}', "form_data.note", NUL_MESSAGE),
    ("nul in a key", JSON, '{"parameters": {"a\\u0000": 1}}', "parameters.a\\u0000", NUL_MESSAGE),
    ("nul in a name", JSON, '{"name": "x\\u0000y", "key": "k"}', "name", NUL_MESSAGE),
    ("nul in a list", JSON, '{"parameters": {"tags": ["a", "\\u0000"]}}', "parameters.tags[1]", NUL_MESSAGE),
    ("lone surrogate", JSON, '{"form_data": {"name": "\\ud800"}}', "form_data.name", SURROGATE_MESSAGE),
    ("lone low surrogate", JSON, '{"value": "a\\udc00b"}', "value", SURROGATE_MESSAGE),
    ("nested past the limit", JSON, NESTED_PAST_THE_LIMIT, "parameters", DEPTH_MESSAGE),
    ("nested past recursion", JSON, NESTED_PAST_RECURSION, "username", DEPTH_MESSAGE),
    ("a deep body", JSON, _deep(50_000), "[0]", DEPTH_MESSAGE),
    ("nul in a form field", "application/x-www-form-urlencoded", "username=%00&password=x", "username", NUL_MESSAGE),
]


@pytest.fixture
def world(fuzz_world):  # noqa: F811  (the imported fixture)
    """The fuzz world, with its workflow also a public webhook for every method (so that its body is read)."""
    from workflows.models import Workflow

    Workflow.objects.filter(name=WORKFLOW_NAME).update(
        endpoint_enabled=True, public_endpoint=True, allowed_methods=["GET", "POST", "PUT", "DELETE"]
    )
    return fuzz_world


def _assert_refused(response, field: str, message: str, what: str):
    assert response.status_code == 400, (what, response.status_code, response.content[:500])
    body = response.json()
    assert body["error"] == "validation_error", (what, body)
    assert body["details"] == {field: [message]}, (what, body)
    assert field in body["message"], (what, body)


def test_the_generated_lists_hold_the_endpoints_of_the_issue():
    operations = set(BODY_OPERATIONS)
    for expected in [
        ("post", "/auth/login"),
        ("post", "/api/workflows/{name}/execute"),
        ("post", "/api/forms/{pk}/submit"),
        ("post", "/api/endpoints/{workflow}"),
        ("post", "/api/config"),
    ]:
        assert expected in operations
    assert len(JSON_OPERATIONS) > 60


@pytest.mark.parametrize(("method", "template"), BODY_OPERATIONS, ids=[f"{m} {t}" for m, t in BODY_OPERATIONS])
def test_every_hostile_body_is_a_400_naming_the_field(method, template, world, admin_user):
    client = client_for(admin_user)
    url = _concrete(template)
    before = _row_counts()
    for name, content_type, body, field, message in HOSTILE_BODIES:
        response = getattr(client, method)(url, body, content_type=content_type)
        _assert_refused(response, field, message, f"{name}: {method.upper()} {url}")
    assert _row_counts() == before


@pytest.mark.parametrize(("method", "template"), JSON_OPERATIONS, ids=[f"{m} {t}" for m, t in JSON_OPERATIONS])
def test_a_nul_in_the_query_string_is_a_400_naming_the_parameter(method, template, world, admin_user):
    client = client_for(admin_user)
    url = _concrete(template)
    before = _row_counts()
    for query, field in [("q=%00", "q"), ("search=ok&name=a%00b", "name"), ("%00=1", "\\u0000")]:
        response = getattr(client, method)(f"{url}?{query}")
        _assert_refused(response, field, NUL_MESSAGE, f"{method.upper()} {url}?{query}")
    assert _row_counts() == before


@pytest.mark.parametrize(
    ("methods", "template"),
    [(methods, template) for template, _, methods in ROUTES if "{" in template],
    ids=[template for template, _, _ in ROUTES if "{" in template],
)
def test_a_nul_in_a_path_segment_is_a_400(methods, template, world, admin_user):
    client = client_for(admin_user)
    url = re.sub(r"\{\w+\}", "a%00b", template)
    for method in methods:
        _assert_refused(getattr(client, method)(url), "path", NUL_MESSAGE, f"{method.upper()} {url}")


def test_pages_and_plain_django_views_never_answer_500_to_hostile_input(world, admin_user):
    """Django's views (pages, the OAuth callback, the metrics) get the same bodies; the guard answers first."""
    client = client_for(admin_user)
    client.force_login(admin_user)
    pages = [(template, methods) for template, is_api, methods in ROUTES if not is_api]
    assert pages
    for template, methods in pages:
        url = _concrete(template)
        for method in (m for m in methods if m in BODY_METHODS):
            for name, content_type, body, field, message in HOSTILE_BODIES:
                response = getattr(client, method)(url, body, content_type=content_type)
                _assert_refused(response, field, message, f"{name}: {method.upper()} {url}")


def test_a_lone_surrogate_is_echoed_as_an_escape_never_raw():
    """The answer itself must be encodable: the offending key is spelled as a JSON escape."""
    from django.test import Client

    response = Client().post("/auth/login", '{"\\udfff": 1}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["details"] == {"\\udfff": [SURROGATE_MESSAGE]}


@pytest.mark.parametrize(
    "body",
    [
        '{"parameters": {"text": "ok \\u00e9 \\ud83d\\ude00 \\\\u0000 is text"}}',  # an escaped backslash, a pair
        '{"parameters": ' + _deep(MAX_DEPTH - 2) + "}",
        '{"parameters": {"brackets": "' + "[" * 500 + '"}}',  # brackets inside a string are not nesting
    ],
)
def test_what_is_storable_still_passes(body, admin_user):
    from bifrost_site.input_guard import check_json_body

    check_json_body(body.encode(), "utf-8")  # raises Refused when refused
    assert json.loads(body)


# --- generated: Hypothesis builds JSON bodies that carry a hostile string somewhere, or nest too deep ---

_storable_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5)
_hostile_text = st.sampled_from(["\x00", "a\x00", "\ud800", "\udfff", "x\udbffy"])
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | _storable_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_storable_text, children, max_size=3),
    max_leaves=8,
)


def _plant(value, text, choice: int):
    """`value` with `text` planted as one of its strings or keys (picked by `choice`), as a new field if none."""
    places = []
    stack = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            places.extend([(*path, ("key", key)) for key in node])
            stack.extend((item, (*path, key)) for key, item in node.items())
        elif isinstance(node, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(node))
        elif isinstance(node, str):
            places.append(path)
    if not places or not isinstance(value, dict):
        return {"value": value, "field": text}
    target = places[choice % len(places)]
    return _replace(value, target, text)


def _replace(node, path, text):
    if not path:
        return text
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):  # a key: rename it
        return {(text if key == head[1] else key): item for key, item in node.items()}
    if isinstance(node, list):
        return [_replace(item, rest, text) if index == head else item for index, item in enumerate(node)]
    return {key: _replace(item, rest, text) if key == head else item for key, item in node.items()}


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same bodies on every run; a failure reproduces
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operation=st.sampled_from(BODY_OPERATIONS),
    value=_json_values,
    hostility=st.one_of(_hostile_text.map(lambda text: ("text", text)), st.just(("depth", None))),
    choice=st.integers(0, 50),
)
def test_generated_hostile_bodies_are_refused_everywhere(operation, value, hostility, choice, world, admin_user):
    method, template = operation
    kind, text = hostility
    body = _plant(value, text, choice) if kind == "text" else {"parameters": _nest(value, MAX_DEPTH + 1)}
    raw = json.dumps(body)  # ensure_ascii: a lone surrogate travels as its \\u escape, as a client sends it
    response = getattr(client_for(admin_user), method)(_concrete(template), raw, content_type=JSON)
    assert response.status_code == 400, (method, template, raw[:300], response.content[:300])
    details = response.json()["details"]
    assert list(details.values())[0][0] in (NUL_MESSAGE, SURROGATE_MESSAGE, DEPTH_MESSAGE), details


def _nest(value, levels: int):
    for _ in range(levels):
        value = [value]
    return value
