import datetime

import pytest
from django.utils import timezone

from conftest import client_for
from executions.models import Execution, ExecutionStatus
from executions.tests.factories import ExecutionFactory, ExecutionLogFactory

pytestmark = pytest.mark.django_db

# Anonymous 401, ORG-user 403 on admin actions, other-org/colleague 404, list scope and the list
# query budget are in the generated matrix (executions/tests/test_matrix.py).


def ids(response):
    return sorted(item["workflow_name"] for item in response.json()["results"])


@pytest.fixture
def untouched(executions_world):
    """After the test: no execution changed status and none was added (cancel/rerun never ran)."""
    before = dict(Execution.objects.values_list("id", "status"))
    yield
    assert dict(Execution.objects.values_list("id", "status")) == before


# --- tenancy ---


def test_org_user_cannot_widen_the_list(executions_world, member, other_org):
    response = client_for(member).get("/api/executions", {"organization": str(other_org.id)})
    assert response.status_code == 200 and response.json()["results"] == []
    response = client_for(member).get("/api/executions", HTTP_X_ORGANIZATION_ID=str(other_org.id))
    assert response.status_code == 403


def test_malformed_id_is_404(admin_client):
    assert admin_client.get("/api/executions/not-a-uuid").status_code == 404
    assert admin_client.get("/api/executions/not-a-uuid/logs").status_code == 404


def test_global_admin_reads_any_organization(executions_world, admin_client):
    response = admin_client.get(f"/api/executions/{executions_world['other_org'].id}")
    assert response.status_code == 200
    assert response.json()["workflow_name"] == "other_org"


# --- detail, result, variables, errors ---


def test_detail_shows_parameters_result_and_no_variables(member, org):
    execution = ExecutionFactory(
        organization=org,
        executed_by=member,
        parameters={"email": "a@b.test"},
        result={"created": True},
        result_type="json",
        variables={"token": "x"},
    )
    body = client_for(member).get(f"/api/executions/{execution.id}").json()
    assert body["parameters"] == {"email": "a@b.test"}
    assert body["result"] == {"created": True}
    assert body["result_type"] == "json"
    assert body["is_complete"] is True
    assert body["organization_name"] == org.name
    assert "variables" not in body


def test_org_user_sees_only_user_error_messages(member, admin_user, org):
    failed = ExecutionFactory(
        organization=org,
        executed_by=member,
        status=ExecutionStatus.FAILED,
        error_type="KeyError",
        error_message="'password' in internal dict",
    )
    user_error = ExecutionFactory(
        organization=org, executed_by=member, status=ExecutionStatus.FAILED, error_type="UserError", error_message="No"
    )
    body = client_for(member).get(f"/api/executions/{failed.id}").json()
    assert (body["error_message"], body["error_type"]) == ("An error occurred during execution", "")
    body = client_for(member).get(f"/api/executions/{user_error.id}").json()
    assert (body["error_message"], body["error_type"]) == ("No", "UserError")
    body = client_for(admin_user).get(f"/api/executions/{failed.id}").json()
    assert (body["error_message"], body["error_type"]) == ("'password' in internal dict", "KeyError")


def test_result_endpoint(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member, result="<b>hi</b>", result_type="html")
    body = client_for(member).get(f"/api/executions/{execution.id}/result").json()
    assert body == {
        "execution_id": str(execution.id),
        "status": "Success",
        "is_complete": True,
        "result_type": "html",
        "result": "<b>hi</b>",
    }


def test_variables_are_admin_only(member, admin_user, org):
    execution = ExecutionFactory(organization=org, executed_by=member, variables={"count": 3})
    assert client_for(member).get(f"/api/executions/{execution.id}/variables").status_code == 403
    response = client_for(admin_user, organization=org).get(f"/api/executions/{execution.id}/variables")
    assert response.status_code == 200
    assert response.json() == {"execution_id": str(execution.id), "variables": {"count": 3}}


# --- logs ---


@pytest.fixture
def logged_execution(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member, status=ExecutionStatus.RUNNING)
    levels = ["info", "debug", "info", "traceback", "warning", "error", "debug", "info"]
    for sequence, level in enumerate(levels, start=1):
        ExecutionLogFactory(execution=execution, sequence=sequence, level=level, message=f"{level} {sequence}")
    return execution


def test_logs_hide_debug_and_traceback_from_org_users(logged_execution, member, admin_user):
    body = client_for(member).get(f"/api/executions/{logged_execution.id}/logs").json()
    assert [line["sequence"] for line in body["results"]] == [1, 3, 5, 6, 8]
    assert {line["level"] for line in body["results"]} == {"info", "warning", "error"}
    assert body["next"] is None and body["last_sequence"] == 8 and body["is_complete"] is False
    body = client_for(admin_user).get(f"/api/executions/{logged_execution.id}/logs").json()
    assert [line["sequence"] for line in body["results"]] == list(range(1, 9))


def test_logs_after_and_limit_page_by_sequence(logged_execution, admin_user):
    client = client_for(admin_user)
    body = client.get(f"/api/executions/{logged_execution.id}/logs", {"after": 2, "limit": 3}).json()
    assert [line["sequence"] for line in body["results"]] == [3, 4, 5]
    assert body["last_sequence"] == 5
    assert "after=5" in body["next"]
    body = client.get(body["next"]).json()
    assert [line["sequence"] for line in body["results"]] == [6, 7, 8]
    assert body["next"] is None
    body = client.get(f"/api/executions/{logged_execution.id}/logs", {"after": 8}).json()
    assert body["results"] == [] and body["last_sequence"] == 8


@pytest.mark.parametrize(
    ("params", "field"), [({"after": "x"}, "after"), ({"after": -1}, "after"), ({"limit": 0}, "limit")]
)
def test_logs_bad_query_is_400_naming_the_field(logged_execution, admin_user, params, field):
    response = client_for(admin_user).get(f"/api/executions/{logged_execution.id}/logs", params)
    assert response.status_code == 400
    assert field in response.json()["details"]


# --- filters, ordering, pagination ---


def test_filters(admin_user, org, other_org, member):
    now = timezone.now()
    from forms_app.tests.factories import FormFactory

    form = FormFactory(organization=org)
    a = ExecutionFactory(organization=org, executed_by=member, workflow_name="a", status="Failed", form=form)
    b = ExecutionFactory(
        organization=org, workflow_name="b", trigger="schedule", started_at=now - datetime.timedelta(days=2)
    )
    c = ExecutionFactory(organization=other_org, workflow_name="c", status="Running")
    client = client_for(admin_user)

    def names(**params):
        response = client.get("/api/executions", params)
        assert response.status_code == 200, response.content
        return sorted(item["workflow_name"] for item in response.json()["results"])

    assert names(workflow_name="a") == ["a"]
    assert names(status="Failed") == ["a"]
    assert client.get("/api/executions?status=Failed&status=Running").json()["results"][0]["workflow_name"] in "ac"
    assert len(client.get("/api/executions?status=Failed&status=Running").json()["results"]) == 2
    assert names(form=str(form.id)) == ["a"]
    assert names(executed_by=str(member.id)) == ["a"]
    assert names(trigger="schedule") == ["b"]
    assert names(started_before=(now - datetime.timedelta(days=1)).isoformat()) == ["b"]
    assert names(started_after=(now - datetime.timedelta(days=1)).isoformat()) == ["a", "c"]
    assert names(organization=str(other_org.id)) == ["c"]
    assert {a.id, b.id, c.id}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "Exploded"}, "status"),
        ({"trigger": "psychic"}, "trigger"),
        ({"form": "nope"}, "form"),
        ({"executed_by": "nope"}, "executed_by"),
        ({"organization": "nope"}, "organization"),
        ({"started_after": "yesterday"}, "started_after"),
    ],
)
def test_bad_filter_is_400_naming_the_field(admin_client, params, field):
    response = admin_client.get("/api/executions", params)
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_cursor_pagination_walks_every_row_once(admin_user, org):
    base = timezone.now()
    created = []
    for index in range(7):
        execution = ExecutionFactory(organization=org, workflow_name=f"w{index}")
        # Two rows share a created_at: the id tie-breaker keeps the cursor stable.
        Execution.objects.filter(id=execution.id).update(created_at=base + datetime.timedelta(seconds=index // 2))
        created.append(execution.id)
    client = client_for(admin_user)
    seen, url = [], "/api/executions?limit=3"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(str(i) for i in created) and len(seen) == 7
    ascending = client.get("/api/executions", {"ordering": "created_at", "limit": 50}).json()["results"]
    descending = client.get("/api/executions", {"limit": 50}).json()["results"]
    assert [item["id"] for item in ascending] == [item["id"] for item in reversed(descending)]


def test_list_items_are_light(admin_client, org):
    ExecutionFactory(organization=org, result={"big": "x"}, variables={"v": 1}, parameters={"p": 1})
    item = admin_client.get("/api/executions").json()["results"][0]
    assert not {"result", "variables", "parameters", "error_message"} & set(item)


# --- cancel and rerun (the real engine; runs on the worker are in test_api_e2e.py) ---


def test_org_user_cancels_their_own_pending_execution(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member, status=ExecutionStatus.PENDING)
    response = client_for(member).post(f"/api/executions/{execution.id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Cancelled"
    again = client_for(member).post(f"/api/executions/{execution.id}/cancel")
    assert again.status_code == 400 and again.json()["details"]["status"] == "Cancelled"


def test_rerun_is_admin_only(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member, parameters={"n": 1})
    assert client_for(member).post(f"/api/executions/{execution.id}/rerun").status_code == 403
    assert not Execution.objects.filter(rerun_of=execution).exists()
