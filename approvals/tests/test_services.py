"""Approval policies, the request made by `execution_start`, decisions, four eyes, expiry and cancel."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserFactory, UserRoleFactory
from approvals import services
from approvals.models import Approval, ApprovalStatus
from audit.models import AuditLog
from bifrost_site.api.errors import ConflictError
from executions.models import Execution, ExecutionLog, ExecutionStatus, Trigger
from executions.services import execution_cancel, execution_start
from forms_app.tests.factories import FormFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db
S = ExecutionStatus


@pytest.fixture
def approvers(org):
    role = RoleFactory(organization=org, name="Change approvers")
    approver = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=approver, role=role)
    return role, approver


def start(workflow, user, organization, **kwargs):
    return execution_start(
        workflow_name=workflow.name,
        parameters={},
        trigger=Trigger.MANUAL,
        organization=organization,
        user=user,
        **kwargs,
    ).execution


def test_workflow_policy_creates_an_awaiting_run_that_is_not_published(
    org, member, approvers, django_capture_on_commit_callbacks
):
    role, _ = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"], "timeout_hours": 5})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = execution_start(
            workflow_name=workflow.name, parameters={}, trigger=Trigger.MANUAL, organization=org, user=member
        )
    execution = started.execution
    assert started.mode == "async"
    assert execution.status == S.AWAITING_APPROVAL
    approval = Approval.objects.get(execution=execution)
    assert approval.requested_by == member and approval.organization == org
    assert list(approval.approver_roles.all()) == [role]
    assert abs((approval.expires_at - timezone.now()) - datetime.timedelta(hours=5)) < datetime.timedelta(minutes=1)
    names = [getattr(c, "__qualname__", "") for c in callbacks]
    assert not any("_publish" in name for name in names), names


def test_admin_override_turns_the_policy_off_and_no_policy_runs_at_once(org, member):
    workflow = WorkflowFactory(approval_policy={"approver_roles": []}, approval_policy_override={})
    assert start(workflow, member, org).status == S.PENDING
    assert start(WorkflowFactory(), member, org).status == S.PENDING


def test_form_policy_wins_and_needs_its_roles(org, member, approvers):
    role, _ = approvers
    workflow = WorkflowFactory()
    form = FormFactory(organization=org, workflow=workflow.name, requires_approval=True, approval_timeout_hours=1)
    form.approver_roles.set([role])
    execution = start(workflow, member, org, form=form)
    approval = execution.approval
    assert execution.status == S.AWAITING_APPROVAL
    assert approval.policy_source == "form"
    assert list(approval.approver_roles.all()) == [role]


def test_a_deferred_run_that_needs_approval_is_refused(org, member):
    from rest_framework.exceptions import ValidationError

    workflow = WorkflowFactory(approval_policy={"timeout_hours": 1})
    with pytest.raises(ValidationError):
        start(workflow, member, org, run_at=timezone.now() + datetime.timedelta(hours=1))


def test_approve_by_an_approver_admits_the_run_and_audits(org, member, approvers, django_capture_on_commit_callbacks):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"]})
    execution = start(workflow, member, org)
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_approve(approval_id=execution.approval.id, user=approver, comment="go")
    execution.refresh_from_db()
    approval = Approval.objects.get(execution=execution)
    assert execution.status in (S.PENDING, S.RUNNING, S.SUCCESS)
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by == approver and approval.comment == "go"
    entry = AuditLog.objects.get(action="approval.approve", resource_id=str(approval.id))
    assert entry.actor == approver
    lines = ExecutionLog.objects.filter(execution=execution)
    assert lines.filter(message__contains="Approved by approver@contoso.test: go").exists()


def test_four_eyes_even_for_a_platform_admin_and_a_role_holder(org, approvers):
    role, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_role_ids": [str(role.id)]})
    mine = start(workflow, approver, org)
    with pytest.raises(PermissionDenied):
        services.approval_approve(approval_id=mine.approval.id, user=approver)
    admin = PlatformAdminFactory()
    theirs = start(workflow, admin, org)
    with pytest.raises(PermissionDenied):
        services.approval_reject(approval_id=theirs.approval.id, user=admin)
    assert Execution.objects.get(id=theirs.id).status == S.AWAITING_APPROVAL
    # another admin may
    services.approval_reject(approval_id=theirs.approval.id, user=PlatformAdminFactory(), comment="no")
    assert Execution.objects.get(id=theirs.id).status == S.REJECTED


def test_a_user_without_the_role_or_of_another_org_cannot_decide(org, other_org, member, approvers):
    role, _ = approvers
    workflow = WorkflowFactory(approval_policy={"approver_role_ids": [str(role.id)]})
    execution = start(workflow, member, org)
    colleague = UserFactory(organization=org)
    with pytest.raises(PermissionDenied):
        services.approval_approve(approval_id=execution.approval.id, user=colleague)
    global_role = RoleFactory(organization=None, name="MSP approvers")
    outsider = UserFactory(organization=other_org)
    UserRoleFactory(user=outsider, role=global_role)
    execution.approval.approver_roles.add(global_role)
    with pytest.raises(PermissionDenied):
        services.approval_approve(approval_id=execution.approval.id, user=outsider)


def test_reject_ends_the_run_with_who_and_why(org, member, approvers, django_capture_on_commit_callbacks):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"]})
    execution = start(workflow, member, org)
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_reject(approval_id=execution.approval.id, user=approver, comment="not during business hours")
    execution.refresh_from_db()
    assert execution.status == S.REJECTED and execution.is_complete
    assert execution.error_type == "Rejected"
    line = ExecutionLog.objects.filter(execution=execution).order_by("-sequence").first()
    assert line.message == "Rejected by approver@contoso.test: not during business hours"
    assert AuditLog.objects.filter(action="approval.reject", resource_id=str(execution.approval.id)).exists()


def test_deciding_twice_is_409(org, member, approvers):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"]})
    execution = start(workflow, member, org)
    services.approval_reject(approval_id=execution.approval.id, user=approver)
    with pytest.raises(ConflictError):
        services.approval_approve(approval_id=execution.approval.id, user=approver)


def test_expiry_ends_the_run_and_a_late_decision_is_409(org, member, approvers, django_capture_on_commit_callbacks):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"], "timeout_hours": 1})
    execution = start(workflow, member, org)
    fresh = start(workflow, member, org)
    Approval.objects.filter(id=execution.approval.id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.approvals_expire_due() == 1
    execution.refresh_from_db()
    assert execution.status == S.EXPIRED
    assert Approval.objects.get(id=execution.approval.id).status == ApprovalStatus.EXPIRED
    assert ExecutionLog.objects.filter(execution=execution, message__startswith="Expired: nobody approved").exists()
    assert Execution.objects.get(id=fresh.id).status == S.AWAITING_APPROVAL
    with pytest.raises(ConflictError):
        services.approval_approve(approval_id=execution.approval.id, user=approver)


def test_a_late_decision_expires_the_request_first(org, member, approvers):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"]})
    execution = start(workflow, member, org)
    Approval.objects.filter(id=execution.approval.id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(ConflictError):
        services.approval_approve(approval_id=execution.approval.id, user=approver)
    assert Execution.objects.get(id=execution.id).status == S.EXPIRED


def test_cancelling_a_waiting_run_closes_its_request(org, member, approvers):
    _, approver = approvers
    workflow = WorkflowFactory(approval_policy={"approver_roles": ["Change approvers"]})
    execution = start(workflow, member, org)
    cancelled = execution_cancel(execution=execution, user=member)
    assert cancelled.status == S.CANCELLED
    assert Approval.objects.get(execution=execution).status == ApprovalStatus.CANCELLED
    with pytest.raises(ConflictError):
        services.approval_approve(approval_id=execution.approval.id, user=approver)


def test_decorator_policy_is_validated_and_discovered_as_written():
    from bifrost import workflow
    from bifrost.errors import WorkflowDefinitionError

    @workflow(name="risky_change", approval={"approver_roles": ["Change approvers"], "timeout_hours": 4})
    def risky_change():
        return None

    assert risky_change.__bifrost_workflow__.to_dict()["approval_policy"] == {
        "approver_role_ids": [],
        "approver_roles": ["Change approvers"],
        "timeout_hours": 4,
    }
    for bad in ({"approvers": []}, {"timeout_hours": 0}, {"approver_roles": "x"}, ["x"]):
        with pytest.raises(WorkflowDefinitionError, match="approval"):

            @workflow(name="bad_risky", approval=bad)
            def bad_risky():
                return None


def test_expiry_task_is_on_beat():
    from bifrost_site.periodic import PERIODIC_TASKS

    assert any(spec.task == "approvals.expire_approvals" for spec in PERIODIC_TASKS)
