"""A workflow on the real prefork worker takes its token from a connection served by the loopback
OAuth provider: organization first, then GLOBAL; refreshed before it expires; masked everywhere."""

import pytest

from conftest import client_for
from executions.models import Execution, ExecutionLog
from oauth_app.models import FlowType, OAuthToken
from oauth_app.services import connection_refresh
from oauth_app.tests.test_oauth_flows import make_connection

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def run(admin_user, organization=None, connection="graph"):
    response = client_for(admin_user, organization).post(
        "/api/workflows/t_oauth_token/execute", {"parameters": {"connection": connection}}, format="json"
    )
    return response


def test_workflow_gets_the_org_token_else_the_global_one_and_never_stores_it(
    prefork_worker, discovered, provider, admin_user, org, other_org
):
    global_conn = make_connection(provider, organization=None, flow=FlowType.CLIENT_CREDENTIALS)
    org_conn = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS)
    connection_refresh(connection=global_conn)
    connection_refresh(connection=org_conn)
    org_token = OAuthToken.objects.get(connection=org_conn).access_token
    global_token = OAuthToken.objects.get(connection=global_conn).access_token

    in_org = run(admin_user, org)
    assert in_org.status_code == 200, in_org.content
    body = in_org.json()
    assert body["status"] == "Success"
    assert body["result"]["length"] == len(org_token)
    assert body["result"]["token"] == "***"  # registered with the masker before it reached the result
    assert body["result"]["scopes"] == ["User.Read", "offline_access"]

    elsewhere = run(admin_user, other_org).json()  # no connection of its own: the GLOBAL one
    assert elsewhere["result"]["length"] == len(global_token)

    stored = Execution.objects.filter(workflow_name="t_oauth_token")
    lines = list(ExecutionLog.objects.filter(execution__in=stored).values_list("message", flat=True))
    assert lines and all("***" in line for line in lines)
    for token in (org_token, global_token):
        assert all(token not in line for line in lines)
        assert all(token not in str(e.result) and token not in str(e.variables) for e in stored)


def test_workflow_token_is_refreshed_when_it_expires_within_5_minutes(
    prefork_worker, discovered, provider, admin_user, org
):
    provider.state.expires_in = 120
    conn = make_connection(provider, organization=org, flow=FlowType.CLIENT_CREDENTIALS)
    connection_refresh(connection=conn)
    old = OAuthToken.objects.get(connection=conn).access_token
    provider.state.expires_in = 3600
    requests_before = len(provider.token_requests())

    response = run(admin_user, org)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Success"
    assert len(provider.token_requests()) == requests_before + 1  # the worker refreshed it first
    assert OAuthToken.objects.get(connection=conn).access_token != old


def test_a_missing_connection_is_a_clear_workflow_error(prefork_worker, discovered, admin_user, org):
    body = run(admin_user, org, connection="nowhere").json()
    assert body["status"] == "Failed"
    assert "nowhere" in body["error_message"]
