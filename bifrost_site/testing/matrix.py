"""The generated tenancy/permission test matrix (DESIGN §4, §12).

A resource's test module declares the resource ONCE by subclassing `ResourceMatrix` in a class
whose name starts with `Test`; pytest then generates, for every endpoint and method:

- anonymous → 401 on every method of every endpoint;
- an ORG user → 403 on admin endpoints (every method, or only writes when `readers = AUTHENTICATED`);
- an object of another organization → 404 for a platform admin scoped (X-Organization-Id) to a
  different organization, and for an ORG user on the endpoints they may read;
- lists hold only the caller's scope: organization rows, plus GLOBAL rows for OWNED resources
  (config, secrets, roles, forms, OAuth connections); GLOBAL scope shows GLOBAL rows (OWNED) or
  every organization (ACTIVITY: users, executions, audit logs);
- creates land in the caller's scope (the organization of X-Organization-Id, or GLOBAL);
- the list query count is the same for 1 row and 10 rows, and within `max_list_queries`.

Usage (e.g. `secrets_app/tests/test_matrix.py`)::

    import pytest
    from bifrost_site.models import OWNED
    from bifrost_site.testing.matrix import Extra, ResourceMatrix
    from secrets_app.tests.factories import SecretFactory

    pytestmark = pytest.mark.django_db

    class TestSecretMatrix(ResourceMatrix):
        list_url = "/api/secrets"
        detail_url = "/api/secrets/{lookup}"
        lookup = "name"                      # attribute of the object put into {lookup}
        scope_mode = OWNED                   # or ACTIVITY
        detail_methods = ("GET", "PUT", "DELETE")   # what the detail route answers
        max_list_queries = 6
        extras = (Extra("/api/secrets/{lookup}/versions", methods=("GET",)),)

        def make(self, organization):        # organization None = GLOBAL row
            return SecretFactory(organization=organization)

        def create_payload(self, organization):
            return {"name": "new_secret", "value": "x"}

        def update_payload(self, obj):
            return {"value": "y"}

Hooks and attributes (defaults in the class below):
- `readers`: ADMINS (default; ORG users get 403 everywhere) or AUTHENTICATED (ORG users may GET;
  their lists and 404s are checked too, writes must still be 403).
- `list_methods` / `detail_methods`: the methods each route answers (set `list_url = None` or
  `detail_url = None` when a route does not exist).
- `extras`: `Extra(url_template, methods, payload=callable(matrix, obj), url_kwargs=callable(matrix, obj),
  readable_by_org_users=False)` for action endpoints such as `/api/roles/{lookup}/users` or
  `/api/roles/{lookup}/users/{user_id}` (the extra placeholders come from `url_kwargs`).
- `make(organization)` builds one row in that organization (None = GLOBAL; set
  `global_rows = False` when the resource has no GLOBAL rows); `make_list_row(organization)` builds a
  row for the query-count test (defaults to `make`).
- `create_payload(organization)` (None disables the create test), `created_organization_id(response,
  payload)` (defaults to the `organization_id` of the answer), `update_payload(obj)`.
- `count_scope`: "org" (default: rows are made in `org` and listed with X-Organization-Id) or "global".
- `result_id(obj)`: how a row appears in `results[*][id_key]` (defaults to `str(obj.pk)`).
- `scope_mode = PLATFORM` for resources that belong to the platform, not to an organization (the
  workflow registry, schedules, workflow keys, workspace): no other-org 404 or list-narrowing cases;
  anonymous 401, ORG user 403, the query budget and "every scope sees the platform rows" still apply.
- `Extra(..., detail=False)` for collection actions with no object (`/api/forms/import`,
  `/api/workflows/reload`, `/api/oauth/refresh-job`); `Extra(..., org_users=True)` when an ORG user
  passes the permission check on every method of the action (`/api/executions/{lookup}/cancel`,
  `/api/forms/{lookup}/submit`): then other-org objects must be 404 for them, not 403.
- Per-user narrowing (ORG users see only their own executions, forms by role): `make_for_member(member)`
  builds a row the ORG user `member` may see (defaults to `make(member.organization)`);
  `make_hidden_from_member(member)` builds a row IN the member's organization that they must NOT see
  (None = no narrowing). The hidden row must be absent from their list and 404 on every endpoint they
  may call, while their own row is readable (200) and listed.
- `max_member_list_queries`: the budget of an ORG user's list (readers = AUTHENTICATED); the count
  must also be constant for 1 vs 10 of their rows.

The persona fixtures (`org`, `other_org`, `admin_user`, `member`) come from the root conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bifrost_site.models import ACTIVITY, OWNED

PLATFORM = "platform"  # not organization-owned: scope does not narrow it
ADMINS = "admins"
AUTHENTICATED = "authenticated"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

__all__ = ["ACTIVITY", "ADMINS", "AUTHENTICATED", "OWNED", "PLATFORM", "Extra", "ResourceMatrix"]


@dataclass(frozen=True)
class Extra:
    """An action endpoint on one object, e.g. `/api/roles/{lookup}/users` (or, with `detail=False`,
    a collection action such as `/api/forms/import`)."""

    url: str
    methods: tuple[str, ...] = ("GET",)
    payload: Callable[[Any, Any], Any] | None = None
    url_kwargs: Callable[[Any, Any], dict] | None = None
    readable_by_org_users: bool = False
    detail: bool = True
    org_users: bool = False  # ORG users pass the permission check on every method
    # for actions that create an org-scoped row (an execution, an imported form): the organization
    # id of what the admin's call created, read from the answer (None = GLOBAL)
    created_organization_id: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class Case:
    """One (endpoint, method) pair of the matrix."""

    kind: str  # "list", "detail" or "extra"
    method: str
    url: str
    extra: Extra | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def needs_object(self) -> bool:
        if self.kind == "extra":
            return self.extra.detail
        return self.kind != "list"


def _call(client, method: str, url: str, payload=None):
    handler = getattr(client, method.lower())
    if method in SAFE_METHODS or method == "DELETE":
        return handler(url)
    return handler(url, payload if payload is not None else {}, format="json")


def _show(response) -> str:
    return f"{response.status_code}: {response.content[:500]!r}"


class ResourceMatrix:
    """Subclass in a `Test*` class and declare the resource (see the module docstring)."""

    list_url: str | None = None
    detail_url: str | None = None
    lookup: str = "pk"
    scope_mode: str = OWNED
    readers: str = ADMINS
    list_methods: tuple[str, ...] = ("GET", "POST")
    detail_methods: tuple[str, ...] = ("GET", "PUT", "PATCH", "DELETE")
    extras: tuple[Extra, ...] = ()
    global_rows: bool = True
    max_list_queries: int = 8
    max_member_list_queries: int = 8
    count_scope: str = "org"
    id_key: str = "id"

    # --- declaration hooks ---

    def make(self, organization):
        raise NotImplementedError("declare make(organization) in the resource's matrix class")

    def make_list_row(self, organization):
        return self.make(organization)

    def make_for_member(self, member):
        return self.make(member.organization)

    def make_hidden_from_member(self, member):
        return None

    def create_payload(self, organization) -> dict | None:
        return None

    def created_organization_id(self, response, payload) -> str | None:
        return response.json().get("organization_id")

    def update_payload(self, obj) -> dict:
        return {}

    def result_id(self, obj) -> str:
        return str(obj.pk)

    # --- case generation ---

    def cases(self) -> list[Case]:
        found: list[Case] = []
        if self.list_url:
            found += [Case("list", m, self.list_url) for m in self.list_methods]
        if self.detail_url:
            found += [Case("detail", m, self.detail_url) for m in self.detail_methods]
        for extra in self.extras:
            found += [Case("extra", m, extra.url, extra) for m in extra.methods]
        return found

    def org_users_may(self, case: Case) -> bool:
        """Whether an ORG user is allowed through the permission check for this case."""
        if case.kind == "extra" and case.extra.org_users:
            return True
        if self.readers != AUTHENTICATED or case.method not in SAFE_METHODS:
            return False
        return case.kind != "extra" or case.extra.readable_by_org_users

    @property
    def tenanted(self) -> bool:
        return self.scope_mode != PLATFORM

    def pytest_generate_tests(self, metafunc):
        if "case" not in metafunc.fixturenames:
            return
        name = metafunc.function.__name__
        cases = self.cases()
        if name == "test_org_user_is_forbidden":
            cases = [c for c in cases if not self.org_users_may(c)]
        elif name == "test_other_org_object_is_404_for_scoped_admin":
            cases = [c for c in cases if c.needs_object and self.tenanted]
        elif name == "test_other_org_object_is_404_for_org_user":
            cases = [c for c in cases if c.needs_object and self.org_users_may(c) and self.tenanted]
        elif name == "test_unknown_lookup_is_404":
            cases = [c for c in cases if c.needs_object]
        elif name == "test_org_row_is_404_in_global_scope":
            cases = [c for c in cases if c.needs_object and self.scope_mode == OWNED]
        elif name == "test_action_creates_land_in_callers_scope":
            cases = [c for c in cases if c.kind == "extra" and c.extra.created_organization_id]
        elif name == "test_hidden_object_is_404_for_org_user":
            narrowing = type(self).make_hidden_from_member is not ResourceMatrix.make_hidden_from_member
            cases = [c for c in cases if c.needs_object and self.org_users_may(c) and narrowing]
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])

    # --- helpers ---

    def url_for(self, case: Case, obj=None, lookup=None) -> str:
        if not case.needs_object:
            return case.url
        kwargs = {"lookup": getattr(obj, self.lookup)} if obj is not None else {}
        if case.extra is not None and case.extra.url_kwargs is not None:
            kwargs.update(case.extra.url_kwargs(self, obj))
        if lookup is not None:
            kwargs["lookup"] = lookup
        return case.url.format(**kwargs)

    def payload_for(self, case: Case, obj, organization):
        if case.method in SAFE_METHODS or case.method == "DELETE":
            return None
        if case.kind == "list":
            return self.create_payload(organization) or {}
        if case.kind == "extra" and case.extra.payload and not case.extra.detail:
            return case.extra.payload(self, organization)
        if case.kind == "detail":
            return self.update_payload(obj)
        return case.extra.payload(self, obj) if case.extra.payload else {}

    @staticmethod
    def client(user=None, organization=None):
        from conftest import client_for

        return client_for(user, organization)

    def list_ids(self, client, **params) -> set[str]:
        response = client.get(self.list_url, {"limit": 500, **params})
        assert response.status_code == 200, _show(response)
        body = response.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body
        return {str(row[self.id_key]) for row in rows}

    # --- the generated tests ---

    def test_anonymous_is_401(self, case, org):
        obj = self.make(org) if case.needs_object else None
        response = _call(self.client(), case.method, self.url_for(case, obj), self.payload_for(case, obj, org))
        assert response.status_code == 401, _show(response)
        assert response.json()["error"] == "not_authenticated"

    def test_org_user_is_forbidden(self, case, org, member):
        obj = self.make(org) if case.needs_object else None
        response = _call(self.client(member), case.method, self.url_for(case, obj), self.payload_for(case, obj, org))
        assert response.status_code == 403, _show(response)

    def test_other_org_object_is_404_for_scoped_admin(self, case, org, other_org, admin_user):
        theirs = self.make(other_org)
        client = self.client(admin_user, org)
        response = _call(client, case.method, self.url_for(case, theirs), self.payload_for(case, theirs, org))
        assert response.status_code == 404, _show(response)
        # the same admin reaches its own organization's object, so the 404 above is about tenancy
        if self.detail_url and "GET" in self.detail_methods:
            mine = self.make(org)
            own = client.get(self.detail_url.format(lookup=getattr(mine, self.lookup)))
            assert own.status_code == 200, _show(own)

    def test_platform_object_is_reachable_from_any_scope(self, org, admin_user):
        """PLATFORM resources: the scope does not narrow them (positive control for the 401/403 cases)."""
        if self.tenanted or not self.detail_url or "GET" not in self.detail_methods:
            pytest.skip("not a PLATFORM resource with a readable detail")
        obj = self.make(None)
        for client in (self.client(admin_user), self.client(admin_user, org)):
            response = client.get(self.detail_url.format(lookup=getattr(obj, self.lookup)))
            assert response.status_code == 200, _show(response)

    @pytest.mark.parametrize("lookup", ["no_such_row", "00000000-0000-4000-8000-000000000000"])
    def test_unknown_lookup_is_404(self, case, lookup, org, admin_user):
        """An unknown or malformed id/name is a 404 on every object endpoint, never a 500."""
        obj = self.make(org if self.tenanted else None)
        url = self.url_for(case, obj, lookup=lookup)
        response = _call(
            self.client(admin_user, org if self.tenanted else None), case.method, url, self.payload_for(case, obj, org)
        )
        assert response.status_code == 404, _show(response)

    def test_org_row_is_404_in_global_scope(self, case, org, admin_user):
        """OWNED resources: GLOBAL scope sees GLOBAL rows only, so an organization's row is a 404 there."""
        theirs = self.make(org)
        response = _call(
            self.client(admin_user), case.method, self.url_for(case, theirs), self.payload_for(case, theirs, None)
        )
        assert response.status_code == 404, _show(response)

    def test_other_org_object_is_404_for_org_user(self, case, org, other_org, member):
        theirs = self.make(other_org)
        response = _call(self.client(member), case.method, self.url_for(case, theirs), None)
        assert response.status_code == 404, _show(response)

    def test_hidden_object_is_404_for_org_user(self, case, org, member):
        """Per-user narrowing inside the member's own organization (a colleague's execution, a
        role-based form without the role) is the same 404 as another organization's object."""
        hidden = self.make_hidden_from_member(member)
        response = _call(self.client(member), case.method, self.url_for(case, hidden), None)
        assert response.status_code == 404, _show(response)

    def test_org_user_reads_own_object(self, org, member):
        """Positive control for the ORG user's 404s: the row they may see is readable."""
        if self.readers != AUTHENTICATED or not self.detail_url or "GET" not in self.detail_methods:
            pytest.skip("ORG users cannot read this resource's detail")
        mine = self.make_for_member(member)
        response = self.client(member).get(self.detail_url.format(lookup=getattr(mine, self.lookup)))
        assert response.status_code == 200, _show(response)

    @pytest.mark.parametrize("caller", ["admin_in_org", "admin_global", "org_user"])
    def test_list_holds_only_callers_scope(self, caller, org, other_org, admin_user, member):
        if not self.list_url or "GET" not in self.list_methods:
            pytest.skip("no list endpoint")
        if caller == "org_user" and self.readers != AUTHENTICATED:
            pytest.skip("ORG users cannot list this resource")
        if not self.tenanted:
            # platform rows: every admin scope sees the same rows
            row = self.make(None)
            client = self.client(admin_user, org) if caller == "admin_in_org" else self.client(admin_user)
            if caller == "org_user":
                client = self.client(member)
            assert self.result_id(row) in self.list_ids(client)
            return
        mine = self.make_for_member(member) if caller == "org_user" else self.make(org)
        theirs = self.make(other_org)
        glob = self.make(None) if self.global_rows else None
        hidden = self.make_hidden_from_member(member) if caller == "org_user" else None
        if caller == "admin_global":
            client = self.client(admin_user)
            if self.scope_mode == OWNED:
                expected, forbidden = [glob], [mine, theirs]
            else:
                expected, forbidden = [mine, theirs, glob], []
        else:
            client = self.client(admin_user, org) if caller == "admin_in_org" else self.client(member)
            expected, forbidden = [mine], [theirs, hidden]
            (expected if self.scope_mode == OWNED else forbidden).append(glob)
        seen = self.list_ids(client)
        # a filter naming another organization cannot widen the list
        seen_filtered = self.list_ids(client, organization=str(other_org.id), organization_id=str(other_org.id))
        expected_ids = {self.result_id(o) for o in expected if o is not None}
        forbidden_ids = {self.result_id(o) for o in forbidden if o is not None}
        assert expected_ids <= seen, f"missing from the list: {expected_ids - seen}"
        assert not (forbidden_ids & seen), f"rows of another scope leaked: {forbidden_ids & seen}"
        assert not (forbidden_ids & seen_filtered), f"an organization filter leaked: {forbidden_ids & seen_filtered}"

    def test_org_user_cannot_switch_organization(self, other_org, member):
        """An ORG user naming another organization in X-Organization-Id is refused (403), not narrowed."""
        if self.readers != AUTHENTICATED or not self.list_url or "GET" not in self.list_methods:
            pytest.skip("ORG users cannot list this resource")
        response = self.client(member, other_org).get(self.list_url)
        assert response.status_code == 403, _show(response)

    @pytest.mark.parametrize("in_org", [True, False], ids=["org_scope", "global_scope"])
    def test_create_lands_in_callers_scope(self, in_org, org, admin_user):
        payload = self.create_payload(org if in_org else None)
        if payload is None or not self.list_url or "POST" not in self.list_methods:
            pytest.skip("no create endpoint declared")
        client = self.client(admin_user, org if in_org else None)
        response = client.post(self.list_url, payload, format="json")
        assert response.status_code == 201, _show(response)
        if not self.tenanted:
            return
        expected = str(org.id) if in_org else None
        created = self.created_organization_id(response, payload)
        assert (str(created) if created is not None else None) == expected

    @pytest.mark.parametrize("in_org", [True, False], ids=["org_scope", "global_scope"])
    def test_action_creates_land_in_callers_scope(self, case, in_org, org, admin_user):
        """An action that creates rows (execute, trigger, import) creates them in the caller's scope."""
        organization = org if in_org else None
        obj = self.make(organization) if case.needs_object else None
        response = _call(
            self.client(admin_user, organization),
            case.method,
            self.url_for(case, obj),
            self.payload_for(case, obj, organization),
        )
        assert response.status_code in (200, 201, 202), _show(response)
        created = case.extra.created_organization_id(self, response)
        assert (str(created) if created is not None else None) == (str(org.id) if in_org else None)

    def test_update_own_object_succeeds(self, org, admin_user):
        """Positive control: the admin of the scope can change its own object."""
        if not self.detail_url or "PATCH" not in self.detail_methods:
            pytest.skip("no PATCH on the detail endpoint")
        obj = self.make(org)
        response = self.client(admin_user, org).patch(
            self.detail_url.format(lookup=getattr(obj, self.lookup)), self.update_payload(obj), format="json"
        )
        assert response.status_code == 200, _show(response)

    def test_list_query_count_is_constant(self, org, admin_user, django_assert_max_num_queries):
        if not self.list_url or "GET" not in self.list_methods:
            pytest.skip("no list endpoint")
        organization = org if self.count_scope == "org" else None
        self._assert_constant_list_queries(
            self.client(admin_user, organization),
            lambda: self.make_list_row(org),
            self.max_list_queries,
            django_assert_max_num_queries,
        )

    def test_org_user_list_query_count_is_constant(self, org, member, django_assert_max_num_queries):
        if not self.list_url or "GET" not in self.list_methods or self.readers != AUTHENTICATED:
            pytest.skip("ORG users cannot list this resource")
        self._assert_constant_list_queries(
            self.client(member),
            lambda: self.make_for_member(member),
            self.max_member_list_queries,
            django_assert_max_num_queries,
        )

    def _assert_constant_list_queries(self, client, make_row, budget, django_assert_max_num_queries):
        make_row()
        client.get(self.list_url)  # warm-up: content types, caches
        with CaptureQueriesContext(connection) as one:
            assert client.get(self.list_url).status_code == 200
        for _ in range(9):
            make_row()
        with CaptureQueriesContext(connection) as ten:
            response = client.get(self.list_url)
            assert response.status_code == 200
        assert len(self.list_ids(client)) >= 10
        assert len(ten) == len(one), "query count grows with the number of rows:\n" + "\n".join(
            q["sql"] for q in ten.captured_queries
        )
        with django_assert_max_num_queries(budget):
            client.get(self.list_url)
