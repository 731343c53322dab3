"""`bifrost.workflows.start` through the engine's runtime (child runs, DESIGN §16), without a worker."""

import pytest

from bifrost import NotInExecutionError, workflows
from bifrost.masking import SecretMasker
from bifrost.runtime import activate
from bifrost.workflows import StartError
from executions.engine.runtime import DjangoRuntime, build_context
from executions.models import ExecutionStatus, Trigger
from executions.tests.factories import ExecutionFactory
from orgs.tests.factories import OrganizationFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db
S = ExecutionStatus


def runtime_for(parent):
    organization = {"id": parent.organization_id, "name": parent.organization.name} if parent.organization else None
    user = parent.executed_by
    user_info = (
        {"id": user.id, "email": user.email, "name": user.name, "is_platform_admin": user.is_platform_admin}
        if user
        else None
    )
    return DjangoRuntime(build_context(parent, organization=organization, user=user_info), masker=SecretMasker())


def test_outside_an_execution_it_says_so():
    with pytest.raises(NotInExecutionError):
        workflows.start("anything", {})


def test_a_child_runs_in_the_parents_organization_as_its_user(org, member):
    WorkflowFactory(name="child_step", parameters=[{"name": "n", "type": "int", "required": True}])
    parent = ExecutionFactory(organization=org, executed_by=member, status=S.RUNNING)
    with activate(runtime_for(parent)):
        child_id = workflows.start("child_step", {"n": "3"})
        with pytest.raises(StartError, match="n"):
            workflows.start("child_step", {})
        with pytest.raises(StartError, match="does not exist"):
            workflows.start("no_such_workflow", {})
        with pytest.raises(StartError, match="own organization"):
            workflows.start("child_step", {"n": 1}, organization=str(OrganizationFactory().id))
    child = parent.children.get(id=child_id)
    assert child.trigger == Trigger.WORKFLOW and child.organization == org and child.executed_by == member
    assert child.parameters == {"n": 3} and child.status == S.PENDING


def test_a_global_run_may_start_a_child_in_an_organization_and_it_waits_for_approval(org, admin_user):
    WorkflowFactory(name="risky_step", approval_policy={"approver_roles": [], "timeout_hours": 1})
    parent = ExecutionFactory(organization=None, executed_by=admin_user, status=S.RUNNING)
    with activate(runtime_for(parent)):
        child_id = workflows.start("risky_step", {}, organization=str(org.id))
    child = parent.children.get(id=child_id)
    assert child.organization == org and child.status == S.AWAITING_APPROVAL
    assert child.approval.requested_by == admin_user
