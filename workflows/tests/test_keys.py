"""Workflow keys and the webhook endpoint's key rules, 404 and 405 (runs end to end on the real worker)."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from workflows.models import WorkflowKey
from workflows.services import keys
from workflows.tests.factories import WorkflowFactory


@pytest.fixture
def hook(db):
    return WorkflowFactory(name="ticket_hook", endpoint_enabled=True, allowed_methods=["POST", "PUT"])


def test_create_shows_the_raw_key_once_and_stores_only_its_hash(hook, admin_client):
    response = admin_client.post("/api/workflow-keys", {"workflow": "ticket_hook", "description": "PSA"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert raw.startswith("bfk_") and len(raw) > 40
    assert body["masked_key"] == raw[:8] + "…"
    stored = WorkflowKey.objects.get(id=body["id"])
    assert stored.hashed_key == keys.key_hash(raw) and raw not in stored.hashed_key
    listed = admin_client.get("/api/workflow-keys").json()["results"]
    assert listed[0]["masked_key"] == raw[:8] + "…"
    assert "key" not in listed[0]
    assert raw not in admin_client.get(f"/api/workflow-keys/{body['id']}").content.decode()
    audit = AuditLog.objects.get(action="workflow_key.create")
    assert raw not in str(audit.changes)


def test_create_validates_workflow_and_expiry(hook, admin_client):
    bad = admin_client.post("/api/workflow-keys", {"workflow": "nope"}, format="json")
    assert bad.status_code == 400 and "workflow" in bad.json()["details"]
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    bad = admin_client.post("/api/workflow-keys", {"expires_at": past}, format="json")
    assert bad.status_code == 400 and "expires_at" in bad.json()["details"]
    ok = admin_client.post("/api/workflow-keys", {}, format="json")
    assert ok.status_code == 201 and ok.json()["workflow"] is None  # global key


def test_delete_revokes_and_audits(hook, admin_client):
    created = keys.workflow_key_create(workflow_name="ticket_hook")
    response = admin_client.delete(f"/api/workflow-keys/{created.key.id}")
    assert response.status_code == 204
    created.key.refresh_from_db()
    assert created.key.revoked_at is not None
    assert AuditLog.objects.filter(action="workflow_key.revoke", resource_id=str(created.key.id)).exists()
    assert admin_client.get("/api/workflow-keys?revoked=true").json()["count"] == 1
    assert admin_client.get("/api/workflow-keys?revoked=false").json()["count"] == 0


def _reason(raw, workflow):
    with pytest.raises(keys.KeyAuthenticationFailed) as excinfo:
        keys.workflow_key_authenticate(raw, workflow)
    return excinfo.value.get_codes()


def test_authenticate_rules(hook):
    other = WorkflowFactory(name="other_hook", endpoint_enabled=True)
    good = keys.workflow_key_create(workflow_name="ticket_hook").raw_key
    global_key = keys.workflow_key_create().raw_key
    revoked = keys.workflow_key_create(workflow_name="ticket_hook")
    keys.workflow_key_revoke(key=revoked.key)
    expired = keys.workflow_key_create(workflow_name="ticket_hook", expires_at=timezone.now() + dt.timedelta(days=1))
    WorkflowKey.objects.filter(id=expired.key.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    key = keys.workflow_key_authenticate(good, hook)
    assert key.last_used_at is not None
    assert WorkflowKey.objects.get(id=key.id).last_used_at is not None
    assert keys.workflow_key_authenticate(global_key, other).workflow is None
    for refused in (None, "", "bfk_unknown", revoked.raw_key, expired.raw_key):
        assert _reason(refused, hook) == "invalid_key"
    assert _reason(good, other) == "invalid_key"  # a key for another workflow


# --- /api/endpoints/{workflow} ---


def test_a_key_holder_learns_which_names_are_endpoints(db):
    WorkflowFactory(name="internal_only", endpoint_enabled=False)
    client = APIClient()
    client.credentials(HTTP_X_BIFROST_KEY=keys.workflow_key_create().raw_key)  # a key for every workflow
    assert client.post("/api/endpoints/internal_only", {}, format="json").status_code == 404
    assert client.post("/api/endpoints/does_not_exist", {}, format="json").status_code == 404


def test_without_a_valid_key_every_name_and_key_state_gets_the_same_401(hook):
    """Issue 18 item 11: the answer tells nothing about which workflows are endpoints or what state a
    key is in (missing, unknown, revoked, expired, for another workflow)."""
    WorkflowFactory(name="internal_only", endpoint_enabled=False)
    WorkflowFactory(name="other_hook", endpoint_enabled=True)
    revoked = keys.workflow_key_create(workflow_name="ticket_hook")
    keys.workflow_key_revoke(key=revoked.key)
    expired = keys.workflow_key_create(workflow_name="ticket_hook", expires_at=timezone.now() + dt.timedelta(days=1))
    WorkflowKey.objects.filter(id=expired.key.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    other = keys.workflow_key_create(workflow_name="other_hook").raw_key
    answers = set()
    for name in ("ticket_hook", "internal_only", "does_not_exist"):
        for header in (None, "bfk_wrong", revoked.raw_key, expired.raw_key, other):
            client = APIClient()
            if header:
                client.credentials(HTTP_X_BIFROST_KEY=header)
            response = client.post(f"/api/endpoints/{name}", {"a": 1}, format="json")
            assert response.status_code == 401, (name, header, response.content)
            assert response.json()["error"] == "not_authenticated"
            answers.add((response.content, response["WWW-Authenticate"]))
    assert len(answers) == 1, answers


def test_endpoint_ignores_bearer_tokens_and_the_dev_bypass(hook, admin_client, settings):
    # An admin's JWT is not a workflow key.
    assert admin_client.post("/api/endpoints/ticket_hook", {}, format="json").status_code == 401


def test_endpoint_for_another_workflows_key_is_401(hook):
    WorkflowFactory(name="other_hook", endpoint_enabled=True)
    raw = keys.workflow_key_create(workflow_name="other_hook").raw_key
    client = APIClient()
    client.credentials(HTTP_X_BIFROST_KEY=raw)
    assert client.post("/api/endpoints/ticket_hook", {}, format="json").status_code == 401


def test_endpoint_method_not_allowed_lists_the_methods(hook):
    raw = keys.workflow_key_create(workflow_name="ticket_hook").raw_key
    client = APIClient()
    client.credentials(HTTP_X_BIFROST_KEY=raw)
    for method in ("get", "delete"):
        response = getattr(client, method)("/api/endpoints/ticket_hook")
        assert response.status_code == 405
        assert response.json()["details"]["allowed_methods"] == ["POST", "PUT"]
        assert response["Allow"] == "POST, PUT"


def test_public_endpoint_needs_no_key_but_still_checks_methods(db):
    WorkflowFactory(name="public_hook", endpoint_enabled=True, public_endpoint=True, allowed_methods=["POST"])
    response = APIClient().get("/api/endpoints/public_hook")
    assert response.status_code == 405


def test_endpoint_is_throttled(hook, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], webhook="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.throttling import SimpleRateThrottle

    old = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        client = APIClient()
        codes = [client.post("/api/endpoints/ticket_hook", {}, format="json").status_code for _ in range(3)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = old
    assert codes == [401, 401, 429]


# --- end to end on the real worker (workflows in executions/tests/workspace_fixture/wf_triggers.py) ---


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_endpoint_runs_the_workflow(prefork_worker, discovered, admin_user):
    from executions.models import Execution

    raw = keys.workflow_key_create(workflow_name="t_hook", description="PSA", created_by=admin_user).raw_key
    key = WorkflowKey.objects.get(workflow__name="t_hook")
    client = APIClient()
    response = client.post(
        "/api/endpoints/t_hook?ticket=7&urgent=true&note=from-query",
        {"note": "from-body"},
        format="json",
        HTTP_X_BIFROST_KEY=raw,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "Success"
    # query and body merged (body wins), coerced to the declared types by the engine
    assert body["result"] == {"ticket": 7, "urgent": True, "note": "from-body", "by": f"api_key:{key.id}"}
    execution = Execution.objects.get(id=body["execution_id"])
    assert (execution.trigger, execution.executed_by_name, execution.organization, execution.executed_by) == (
        "endpoint",
        f"api_key:{key.id}",
        None,
        None,
    )
    assert execution.parameters == {"ticket": 7, "urgent": True, "note": "from-body"}
    assert AuditLog.objects.filter(action="workflow_endpoint.call", resource_id="t_hook").count() == 1
    got = client.get("/api/endpoints/t_hook?ticket=8", HTTP_X_BIFROST_KEY=raw)
    assert got.status_code == 200 and got.json()["result"]["ticket"] == 8
    bad = client.post("/api/endpoints/t_hook", {"ticket": "seven"}, format="json", HTTP_X_BIFROST_KEY=raw)
    assert bad.status_code == 400 and "ticket" in bad.json()["details"]
    assert client.post("/api/endpoints/t_hook", {"ticket": 1}, format="json").status_code == 401


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_async_endpoint_answers_202_and_public_endpoint_is_anonymous(prefork_worker, discovered, admin_user):
    from bifrost_site.testing.engine import wait_for
    from executions.models import Execution

    raw = keys.workflow_key_create(workflow_name="", description="global", created_by=admin_user).raw_key
    client = APIClient()
    response = client.post("/api/endpoints/t_hook_async?ticket=9", {}, format="json", HTTP_X_BIFROST_KEY=raw)
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"execution_id", "status"}
    execution = wait_for(
        lambda: (e := Execution.objects.get(id=response.json()["execution_id"])).is_complete and e,
        message="the async webhook run",
    )
    assert execution.status == "Success" and execution.result == {"ticket": 9}
    public = client.post("/api/endpoints/t_public_hook", {}, format="json")
    assert public.status_code == 200, public.content
    assert public.json()["result"] == {"by": "public:anonymous"}
    assert Execution.objects.get(id=public.json()["execution_id"]).executed_by_name == "public:anonymous"
