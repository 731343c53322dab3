"""Tenancy/permission matrix for /api/executions and its actions (bifrost_site.testing.matrix).

ORG users read (and cancel) only the executions they started: a colleague's execution in the same
organization is a 404 like another organization's. Variables and rerun are for platform admins.
"""

import pytest

from bifrost_site.testing.matrix import ACTIVITY, AUTHENTICATED, Extra, ResourceMatrix
from executions.models import ExecutionStatus
from executions.tests.factories import ExecutionFactory, ExecutionLogFactory

pytestmark = pytest.mark.django_db


class TestExecutionMatrix(ResourceMatrix):
    list_url = "/api/executions"
    detail_url = "/api/executions/{lookup}"
    scope_mode = ACTIVITY
    readers = AUTHENTICATED
    list_methods = ("GET",)
    detail_methods = ("GET",)
    max_list_queries = 4
    max_member_list_queries = 4
    extras = (
        Extra("/api/executions/{lookup}/logs", readable_by_org_users=True),
        Extra("/api/executions/{lookup}/result", readable_by_org_users=True),
        Extra("/api/executions/{lookup}/variables"),
        Extra("/api/executions/{lookup}/source"),  # DESIGN §20: the code that ran, admins only
        Extra("/api/executions/{lookup}/cancel", methods=("POST",), org_users=True),
        Extra("/api/executions/{lookup}/rerun", methods=("POST",)),
        # execution figures of the caller's scope (admins only): bifrost_site/tests/test_metrics.py checks the numbers
        Extra("/api/metrics", detail=False),
    )

    def make(self, organization):
        if organization is None:  # an endpoint or schedule run: GLOBAL, no user
            return ExecutionFactory(organization=None, executed_by=None, executed_by_name="public:anonymous")
        execution = ExecutionFactory(organization=organization, status=ExecutionStatus.RUNNING)
        ExecutionLogFactory(execution=execution)
        return execution

    def make_for_member(self, member):
        return ExecutionFactory(organization=member.organization, executed_by=member, status=ExecutionStatus.RUNNING)

    def make_hidden_from_member(self, member):
        # a colleague's execution in the member's own organization
        return ExecutionFactory(organization=member.organization, status=ExecutionStatus.RUNNING)
