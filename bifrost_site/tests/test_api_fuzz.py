"""Schema-driven fuzzing of the whole API (DESIGN §12, issue 9).

schemathesis reads the COMMITTED OpenAPI document (docs/api/openapi.yaml) and, for EVERY operation
in it, generates requests (valid and invalid: its examples, coverage and fuzzing phases) and sends
them in-process to the Django WSGI application, as a platform admin and as an ORG user, against the
real PostgreSQL, Redis and RabbitMQ. A test fails on:

- any 5xx;
- a status code the operation does not document;
- a content type the operation does not document;
- a body that does not conform to the documented schema for its status.

New endpoints are fuzzed as soon as `make schema` puts them in the committed document; nothing here
lists the operations. So that the generated requests reach real objects (and their 200 bodies are
checked) and not only 404s, each test seeds one object of every kind with a known id or name, and
the path parameters and the X-Organization-Id header are drawn from the generated values OR those.
"""

import importlib.util
import os
import uuid
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core import NotSet

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "api" / "openapi.yaml"

# Operations left out, each with its reason. Keep this short: everything else is fuzzed.
EXCLUSIONS: list[tuple[str | None, str, str]] = []
if importlib.util.find_spec("executions.services") is None:
    # The workflow engine (executions/services.py) is built on another branch. Until it lands these
    # operations import it and cannot answer; they are fuzzed automatically once it exists.
    _ENGINE_PENDING = "the workflow engine (executions.services) is not merged yet"
    EXCLUSIONS += [
        ("POST", r"^/api/executions/\{id\}/(cancel|rerun)$", _ENGINE_PENDING),
        ("POST", r"^/api/schedules/\{workflow\}/trigger$", _ENGINE_PENDING),
        (None, r"^/api/endpoints/\{workflow\}$", _ENGINE_PENDING),
    ]

schema = schemathesis.openapi.from_path(SCHEMA_PATH)
for _method, _path_regex, _reason in EXCLUSIONS:
    schema = schema.exclude(path_regex=_path_regex, **({"method": _method} if _method else {}))

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

FUZZ_SETTINGS = hypothesis.settings(
    # FUZZ_MAX_EXAMPLES=200 pytest bifrost_site/tests/test_api_fuzz.py for a deeper run by hand.
    max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "15")),
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,
    # Function-scoped fixtures (the seeded objects) are shared by the examples of one operation on
    # purpose; the generated data is often filtered (headers, path parameters); requests are slow-ish.
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

# --- known objects: fixed ids and names, created for every test ---

ORG_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000001")
TARGET_USER_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000002")
ROLE_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000003")
FORM_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000004")
EXECUTION_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000005")
AUDIT_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000006")
KEY_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000007")
JOB_ID = uuid.UUID("0f0f0f0f-0000-4000-8000-000000000008")
CONFIG_KEY = "fuzz_setting"
SECRET_NAME = "fuzz_secret"
CONNECTION_NAME = "fuzz_connection"
WORKFLOW_NAME = "fuzz_workflow"

# A path parameter named `id` means a different object on each resource, so the values are keyed
# by the operation's path prefix (the longest matching prefix wins).
KNOWN_PATH_VALUES = {
    "/api/organizations/": {"id": ORG_ID},
    "/api/users/": {"id": TARGET_USER_ID},
    "/api/roles/": {"id": ROLE_ID, "user_id": TARGET_USER_ID, "form_id": FORM_ID},
    "/api/forms/": {"id": FORM_ID},
    "/api/executions/": {"id": EXECUTION_ID},
    "/api/audit-logs/": {"id": AUDIT_ID},
    "/api/workflow-keys/": {"id": KEY_ID},
    "/api/workspace/jobs/": {"job_id": JOB_ID},
    "/api/config/": {"key": CONFIG_KEY},
    "/api/secrets/": {"name": SECRET_NAME},
    "/api/oauth/connections/": {"name": CONNECTION_NAME},
    "/api/schedules/": {"workflow": WORKFLOW_NAME},
    "/api/endpoints/": {"workflow": WORKFLOW_NAME},
    "/api/workflows/": {"name": WORKFLOW_NAME},
}


def _known_path_parameters(path: str, names) -> dict | None:
    prefixes = sorted((p for p in KNOWN_PATH_VALUES if path.startswith(p)), key=len, reverse=True)
    if not prefixes:
        return None
    values = KNOWN_PATH_VALUES[prefixes[0]]
    if not all(name in values for name in names):
        return None
    return {name: str(values[name]) for name in names}


@schema.hook
def before_generate_path_parameters(context, strategy):
    operation = context.operation
    names = [p.name for p in operation.path_parameters]
    known = _known_path_parameters(operation.path, names)
    if known is None:
        return strategy
    return st.one_of(st.just(known), strategy)


@schema.hook
def before_generate_headers(context, strategy):
    names = {p.name for p in context.operation.headers}
    if "X-Organization-Id" not in names:
        return strategy
    known = st.sampled_from([{"X-Organization-Id": str(ORG_ID)}, {}])
    return st.one_of(known, strategy)


# --- hostile input (issue 18 #5): some generated requests carry what PostgreSQL or Python cannot take ---
# A NUL put into a JSON body's first string (or a new field), a JSON body nested past
# the input guard's limit, a NUL in a query parameter or a path parameter. Each must be a documented 400
# (the input guard's), never a 500. One request in three is made hostile, in one of these ways.

# Lone surrogates are not among them: schemathesis itself cannot encode one when it checks a body against
# the schema. test_hostile_input.py sends them (and every other class) to every endpoint, with Hypothesis.
HOSTILE_TEXT = st.sampled_from(["\x00", "a\x00b", "\x00\x00", "name\x00"])
HOSTILE_DEPTH = 150  # past the guard's 100 levels, well within what json.dumps can write


def _with_text(value, text):
    """`value` with its first string replaced by `text` (or, in an object without strings, a field added)."""
    if isinstance(value, str):
        return text
    if isinstance(value, dict):
        for key, item in value.items():
            replaced = _with_text(item, text)
            if replaced is not item:
                return {**value, key: replaced}
        return {**value, "name": text}
    if isinstance(value, list):
        for index, item in enumerate(value):
            replaced = _with_text(item, text)
            if replaced is not item:
                return [*value[:index], replaced, *value[index + 1 :]]
        return [*value, text]
    return value


def _nested(value, levels: int = HOSTILE_DEPTH):
    for _ in range(levels):
        value = [value]
    return value


def _make_hostile(drawn):
    case, roll, text = drawn
    has_json_body = case.media_type == "application/json" and not isinstance(case.body, NotSet | bytes)
    if roll == 0 and has_json_body:
        case.body = _with_text(case.body, text)
    elif roll == 1 and has_json_body:
        first = next(iter(case.body), None) if isinstance(case.body, dict) else None
        case.body = {**case.body, first: _nested(case.body[first])} if first is not None else _nested(case.body)
    elif roll == 2:
        name = next(iter(case.query or {}), "q")
        case.query = {**(case.query or {}), name: "a\x00b"}
    elif roll == 3 and case.path_parameters:
        name = next(iter(case.path_parameters))
        case.path_parameters = {**case.path_parameters, name: "a\x00b"}
    return case


@schema.hook
def before_generate_case(context, strategy):
    return st.tuples(strategy, st.sampled_from(range(12)), HOSTILE_TEXT).map(_make_hostile)


@pytest.fixture
def org(db):
    from orgs.tests.factories import OrganizationFactory

    return OrganizationFactory(id=ORG_ID, name="Contoso")


@pytest.fixture
def fuzz_world(org, member, other_org):
    """One object of every kind, GLOBAL where the resource has GLOBAL rows (the admin's default scope)."""
    from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
    from audit.tests.factories import AuditLogFactory
    from executions.tests.factories import ExecutionFactory, ExecutionLogFactory
    from forms_app.tests.factories import FormFactory, FormRoleFactory
    from oauth_app.tests.factories import OAuthConnectionFactory
    from orgs.tests.factories import ConfigFactory
    from secrets_app.tests.factories import SecretFactory
    from workflows.tests.factories import WorkflowFactory, WorkflowKeyFactory, WorkspaceJobFactory

    target = UserFactory(id=TARGET_USER_ID, organization=org, email="target@contoso.test")
    role = RoleFactory(id=ROLE_ID, organization=None, name="Fuzz role")
    form = FormFactory(id=FORM_ID, organization=None, name="Fuzz form", workflow=WORKFLOW_NAME)
    FormRoleFactory(form=form, role=role)
    UserRoleFactory(role=role, user=target)
    workflow = WorkflowFactory(name=WORKFLOW_NAME, schedule="*/15 * * * *")
    execution = ExecutionFactory(
        id=EXECUTION_ID, organization=org, executed_by=member, workflow_name=WORKFLOW_NAME, result={"ok": True}
    )
    ExecutionLogFactory(execution=execution)
    AuditLogFactory(id=AUDIT_ID, organization=org)
    WorkflowKeyFactory(id=KEY_ID, workflow=workflow)
    WorkspaceJobFactory(id=JOB_ID)
    ConfigFactory(key=CONFIG_KEY, organization=None, value="hello")
    SecretFactory(name=SECRET_NAME, organization=None)
    OAuthConnectionFactory(name=CONNECTION_NAME, organization=None)
    return {"org": org, "member": member, "target": target}


@pytest.fixture(autouse=True)
def _refuse_flushdb(monkeypatch):
    """Any cache.clear() here fails the test: on Redis it is FLUSHDB of a database other runs share."""
    from django.core.cache.backends.redis import RedisCache

    monkeypatch.setattr(RedisCache, "clear", lambda self: pytest.fail("cache.clear() is FLUSHDB"))


@pytest.fixture
def wsgi_app():
    """The Django WSGI handler, sharing the test's database transaction.

    Django's own test client disconnects `close_old_connections` for the same reason: it would
    close the connection that holds the test transaction at the end of every request.
    """
    from django.core.wsgi import get_wsgi_application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _bearer(user) -> dict:
    from accounts.services import tokens_issue

    return {"Authorization": f"Bearer {tokens_issue(user=user).access_token}"}


def _call_and_check(case, app, user):
    from bifrost_site.testing.services import cleanup_cache_keys

    # Throttle and lock-out counters would otherwise turn every later example of /auth/* into a
    # 429 (a documented answer, but then nothing else of the operation is exercised). Only this
    # run's keys are deleted, never the whole Redis database (another Bifrost may share it).
    cleanup_cache_keys()
    response = case.call(app=app, headers=_bearer(user))
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_platform_admin(case, wsgi_app, admin_user, fuzz_world):
    _call_and_check(case, wsgi_app, admin_user)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_org_user(case, wsgi_app, fuzz_world):
    _call_and_check(case, wsgi_app, fuzz_world["member"])


def test_every_exclusion_names_a_reason_and_matches_an_operation():
    raw = schemathesis.openapi.from_path(SCHEMA_PATH)
    paths = {op.path for op in (result.ok() for result in raw.get_all_operations())}
    import re

    for _method, path_regex, reason in EXCLUSIONS:
        assert reason
        assert any(re.search(path_regex, p) for p in paths), f"exclusion {path_regex} matches no operation"
