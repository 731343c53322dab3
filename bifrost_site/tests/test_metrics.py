import pytest
from rest_framework.test import APIClient

from executions.tests.factories import ExecutionFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def test_prometheus_metrics_count_executions_by_status():
    ExecutionFactory.create_batch(3, status="Success")
    ExecutionFactory(status="Failed", error_type="ValueError")
    WorkflowFactory(is_available=False)
    response = APIClient().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'bifrost_executions{status="Success"} 3.0' in body
    assert 'bifrost_executions{status="Failed"} 1.0' in body
    assert 'bifrost_workflows{available="false"} 1.0' in body
    assert 'bifrost_service_up{service="database"} 1.0' in body


def test_prometheus_metrics_can_require_a_token(settings):
    settings.METRICS_TOKEN = "scrape-me-please"
    assert APIClient().get("/metrics").status_code == 401
    ok = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-please")
    assert ok.status_code == 200


def test_api_metrics_summarises_the_scope(admin_client, org, other_org):
    ExecutionFactory.create_batch(3, organization=org, status="Success", duration_ms=100)
    ExecutionFactory(organization=org, status="Failed", error_type="ValueError", duration_ms=300)
    ExecutionFactory(organization=other_org, status="Failed")
    everything = admin_client.get("/api/metrics").json()
    assert everything["total"] == 5
    scoped = admin_client.get("/api/metrics", HTTP_X_ORGANIZATION_ID=str(org.id)).json()
    assert scoped["total"] == 4
    assert scoped["by_status"] == {"Success": 3, "Failed": 1}
    assert scoped["success_rate"] == 0.75
    assert scoped["average_duration_ms"] == 150.0
    assert [f["error_type"] for f in scoped["recent_failures"]] == ["ValueError"]


def test_api_metrics_rejects_bad_window_and_org_users(admin_client, member_client):
    assert admin_client.get("/api/metrics?days=abc").status_code == 400
    assert admin_client.get("/api/metrics?days=0").status_code == 400
    assert member_client.get("/api/metrics").status_code == 403
    assert APIClient().get("/api/metrics").status_code == 401


def test_waiting_runs_per_organization(admin_client, org, other_org):
    waiting = {"status": "Pending", "started_at": None}
    ExecutionFactory.create_batch(2, organization=org, waiting_reason="organization_concurrency", **waiting)
    ExecutionFactory(organization=org, waiting_reason="workflow_concurrency", **waiting)
    ExecutionFactory(organization=other_org, waiting_reason="organization_concurrency", **waiting)
    ExecutionFactory(organization=org, **waiting)  # admitted, not waiting
    body = APIClient().get("/metrics").content.decode()
    assert f'bifrost_executions_waiting{{organization="{org.id}",reason="organization_concurrency"}} 2.0' in body
    assert f'bifrost_executions_waiting{{organization="{org.id}",reason="workflow_concurrency"}} 1.0' in body
    everything = admin_client.get("/api/metrics").json()["waiting"]
    assert everything == {
        str(org.id): {"organization_concurrency": 2, "workflow_concurrency": 1},
        str(other_org.id): {"organization_concurrency": 1},
    }
    scoped = admin_client.get("/api/metrics", HTTP_X_ORGANIZATION_ID=str(other_org.id)).json()["waiting"]
    assert scoped == {str(other_org.id): {"organization_concurrency": 1}}
