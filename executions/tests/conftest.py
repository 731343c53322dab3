"""Fixtures for executions tests (the engine fixtures live in bifrost_site/testing/engine.py)."""

import pytest

from bifrost_site.testing.engine import wait_for  # noqa: F401  (imported by tests from here)


@pytest.fixture
def colleague(org):
    """Another ORG user in the member's organization."""
    from accounts.tests.factories import UserFactory

    return UserFactory(organization=org, email="colleague@contoso.test")


@pytest.fixture
def executions_world(org, other_org, admin_user, member, colleague, outsider):
    """One execution per visibility case."""
    from executions.tests.factories import ExecutionFactory

    return {
        "mine": ExecutionFactory(organization=org, executed_by=member, workflow_name="mine"),
        "colleague": ExecutionFactory(organization=org, executed_by=colleague, workflow_name="colleague"),
        "other_org": ExecutionFactory(organization=other_org, executed_by=outsider, workflow_name="other_org"),
        "global": ExecutionFactory(organization=None, executed_by=admin_user, workflow_name="global_run"),
    }
