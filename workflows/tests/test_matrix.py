"""Tenancy/permission matrix for the platform's workflow resources (bifrost_site.testing.matrix).

The workflow registry, data providers, the deprecated per-workflow schedule paths, workflow keys and the
workspace (git, jobs, packages) belong to the platform, not to an organization (`PLATFORM`): every endpoint is for
platform admins (anonymous 401, ORG users 403), every admin scope sees the same rows, and the list
query counts are constant. Schedules as rows (DESIGN §15) are per organization (ACTIVITY).
`/api/endpoints/{workflow}` (workflow-key auth) is in test_keys.py.
"""

import uuid

import pytest

from bifrost_site.testing.matrix import ACTIVITY, PLATFORM, Extra, ResourceMatrix
from workflows.services import schedules
from workflows.tests.factories import DataProviderFactory, WorkflowFactory, WorkflowKeyFactory, WorkspaceJobFactory

pytestmark = pytest.mark.django_db


def _execution_organization(matrix, response):
    """The organization of the execution a 202 answer names."""
    from executions.models import Execution

    return Execution.objects.get(id=response.json()["execution_id"]).organization_id


class TestWorkflowRegistryMatrix(ResourceMatrix):
    list_url = "/api/workflows"
    detail_url = "/api/workflows/{lookup}"
    lookup = "name"
    scope_mode = PLATFORM
    list_methods = ("GET",)
    detail_methods = ("GET", "PATCH")  # PATCH: an administrator's max_concurrency (DESIGN §15)
    max_list_queries = 4  # user, scope organization, count, rows
    extras = (
        Extra(
            "/api/workflows/{lookup}/execute",
            methods=("POST",),
            payload=lambda m, wf: {"parameters": {}},
            created_organization_id=_execution_organization,
        ),
        Extra("/api/workflows/reload", methods=("POST",), detail=False),
        Extra("/api/workflows/{lookup}/versions"),  # DESIGN §20: stored sources, admins only
    )

    def make(self, organization):
        # async: execute answers 202 once the run is queued (no worker needed)
        return WorkflowFactory(execution_mode="async")

    def result_id(self, obj):
        return str(obj.id)

    def update_payload(self, obj):
        return {"max_concurrency": 3}


class TestDataProviderMatrix(ResourceMatrix):
    list_url = "/api/data-providers"
    lookup = "name"
    scope_mode = PLATFORM
    list_methods = ("GET",)
    max_list_queries = 4
    extras = (Extra("/api/data-providers/{lookup}", methods=("POST",), payload=lambda m, dp: {"inputs": {}}),)

    def make(self, organization):
        return DataProviderFactory()


class TestScheduleMatrix(ResourceMatrix):
    """Schedules as rows (DESIGN §15): per organization or GLOBAL; a GLOBAL admin sees every one."""

    list_url = "/api/schedules"
    detail_url = "/api/schedules/{lookup}"
    scope_mode = ACTIVITY
    list_methods = ("GET", "POST")
    detail_methods = ("GET", "PATCH", "DELETE")
    max_list_queries = 4  # user, scope organization, count, rows (with their workflows)
    extras = (
        Extra(
            "/api/schedules/validate",
            methods=("POST",),
            detail=False,
            payload=lambda m, org: {"expression": "0 6 * * *", "timezone": "UTC"},
        ),
        Extra(
            "/api/schedules/{lookup}/trigger",
            methods=("POST",),
            created_organization_id=_execution_organization,
        ),
    )

    def make(self, organization):
        workflow = WorkflowFactory(execution_mode="async")
        return schedules.schedule_create(
            workflow_name=workflow.name,
            organization=organization,
            values={"cron": "0 6 * * *", "target": "organization" if organization else "global"},
            user=None,
        )

    def create_payload(self, organization):
        return {"workflow": WorkflowFactory(execution_mode="async").name, "cron": "0 7 * * *"}

    def update_payload(self, obj):
        return {"enabled": False}


class TestWorkflowScheduleMatrix(ResourceMatrix):
    """Deprecated `/api/schedules/{workflow}`: a workflow's default schedule (platform)."""

    list_url = None
    detail_url = "/api/schedules/{lookup}"
    lookup = "name"
    id_key = "workflow"
    scope_mode = PLATFORM
    detail_methods = ("GET", "PATCH", "DELETE")
    extras = (
        Extra(
            "/api/schedules/{lookup}/trigger",
            methods=("POST",),
            payload=lambda m, wf: {"parameters": {}},
            created_organization_id=_execution_organization,
        ),
    )

    def make(self, organization):
        workflow = WorkflowFactory(schedule="*/15 * * * *", execution_mode="async")
        schedules.schedule_sync()
        return workflow

    def result_id(self, obj):
        return obj.name

    def update_payload(self, obj):
        return {"enabled": False}


class TestWorkflowKeyMatrix(ResourceMatrix):
    list_url = "/api/workflow-keys"
    detail_url = "/api/workflow-keys/{lookup}"
    scope_mode = PLATFORM
    detail_methods = ("GET", "DELETE")
    max_list_queries = 4

    def make(self, organization):
        return WorkflowKeyFactory()

    def create_payload(self, organization):
        return {"description": f"key {uuid.uuid4().hex[:6]}"}


class TestWorkspaceMatrix(ResourceMatrix):
    """Workspace git settings, sync, jobs and packages (no list: jobs are read one by one)."""

    detail_url = "/api/workspace/jobs/{lookup}"
    scope_mode = PLATFORM
    detail_methods = ("GET",)
    extras = (
        Extra("/api/workspace/git", methods=("GET", "PUT"), detail=False),
        Extra("/api/workspace/git/sync", methods=("POST",), detail=False),
        Extra("/api/packages", detail=False),
        Extra("/api/packages/install", methods=("POST",), detail=False, payload=lambda m, org: {"package": "x"}),
    )

    def make(self, organization):
        return WorkspaceJobFactory()
