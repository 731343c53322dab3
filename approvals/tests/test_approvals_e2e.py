"""The approval flow on the real prefork worker and broker (DESIGN §16): a run that needs approval waits
unpublished, runs with the parameters as submitted once another user approves it, ends Rejected or Expired
otherwise; a workflow stages a risky child run behind an approval with `bifrost.workflows.start`; a GLOBAL
notification rule reaches a real webhook receiver from the worker."""

import datetime
import time

import pytest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from approvals import services
from approvals.models import Approval
from bifrost_site.testing.engine import wait_for
from conftest import client_for
from executions.models import Execution, ExecutionStatus, Trigger
from executions.services import execution_start
from notifications.models import DeliveryStatus, NotificationDelivery
from notifications.tests.factories import NotificationChannelFactory, NotificationRuleFactory
from notifications.tests.receivers import WebhookReceiver
from orgs.tests.factories import OrganizationFactory

S = ExecutionStatus
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(org):
    role = RoleFactory(organization=org, name="Change approvers")
    approver = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=approver, role=role)
    requester = UserFactory(organization=org, email="requester@contoso.test")
    UserRoleFactory(user=requester, role=role)  # an approver too, which never lets them decide their own
    return requester, approver


def _status(execution_id, status, timeout=60):
    return wait_for(
        lambda: Execution.objects.filter(id=execution_id, status=status).exists(),
        timeout=timeout,
        message=f"execution {execution_id} to be {status}",
    )


def _submit(org, user, mailbox="ceo@contoso.test"):
    return execution_start(
        workflow_name="t_needs_approval",
        parameters={"mailbox": mailbox, "reason": "lost phone"},
        trigger=Trigger.MANUAL,
        organization=org,
        user=user,
    ).execution


def test_submit_wait_approve_by_another_user_then_success(prefork_worker, discovered, org, people):
    requester, approver = people
    execution = _submit(org, requester)
    assert execution.status == S.AWAITING_APPROVAL
    time.sleep(1.5)  # nothing was published: the worker has nothing to run
    assert Execution.objects.get(id=execution.id).status == S.AWAITING_APPROVAL
    with pytest.raises(PermissionDenied):
        services.approval_approve(approval_id=execution.approval.id, user=requester)
    outsider = UserFactory(organization=OrganizationFactory())
    theirs = client_for(outsider).post(f"/api/approvals/{execution.approval.id}/approve", {}, format="json")
    assert theirs.status_code == 404
    response = client_for(approver).post(
        f"/api/approvals/{execution.approval.id}/approve", {"comment": "checked"}, format="json"
    )
    assert response.status_code == 200, response.content
    _status(execution.id, S.SUCCESS)
    done = Execution.objects.get(id=execution.id)
    assert done.result == {"disabled": "ceo@contoso.test", "reason": "lost phone"}
    messages = list(done.logs.order_by("sequence").values_list("message", flat=True))
    assert any(m.startswith("Waiting for approval") for m in messages)
    assert any(m == "Approved by approver@contoso.test: checked" for m in messages)


def test_reject_and_expire_end_the_run_without_the_worker(prefork_worker, discovered, org, people):
    requester, approver = people
    rejected, expired = _submit(org, requester), _submit(org, requester)
    services.approval_reject(approval_id=rejected.approval.id, user=approver, comment="no")
    Approval.objects.filter(id=expired.approval.id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert services.approvals_expire_due() == 1
    assert Execution.objects.get(id=rejected.id).status == S.REJECTED
    assert Execution.objects.get(id=expired.id).status == S.EXPIRED
    assert Execution.objects.get(id=rejected.id).started_at is None  # never ran


def test_a_workflow_stages_a_risky_child_behind_an_approval(prefork_worker, discovered, org, people):
    requester, approver = people
    parent = execution_start(
        workflow_name="t_stage_risky_step",
        parameters={"mailbox": "leaver@contoso.test"},
        trigger=Trigger.MANUAL,
        organization=org,
        user=requester,
    ).execution
    _status(parent.id, S.SUCCESS)
    child_id = Execution.objects.get(id=parent.id).result["child_execution_id"]
    child = Execution.objects.get(id=child_id)
    assert child.status == S.AWAITING_APPROVAL and child.parent_execution_id == parent.id
    assert child.trigger == Trigger.WORKFLOW and child.organization_id == org.id
    assert child.approval.requested_by == requester
    services.approval_approve(approval_id=child.approval.id, user=approver)
    _status(child.id, S.SUCCESS)
    assert Execution.objects.get(id=child.id).result["disabled"] == "leaver@contoso.test"


def test_the_worker_notifies_a_global_rule(prefork_worker, discovered, org):
    with WebhookReceiver() as receiver:
        channel = NotificationChannelFactory(organization=None, url=receiver.url("msp"))
        NotificationRuleFactory(organization=None, events=["execution.succeeded"], channels=[channel])
        time.sleep(6)  # the worker's cached view of the rules (5 s) sees the new rule
        execution = execution_start(
            workflow_name="t_async", parameters={}, trigger=Trigger.MANUAL, organization=org
        ).execution
        _status(execution.id, S.SUCCESS)
        wait_for(
            lambda: NotificationDelivery.objects.filter(execution_id=execution.id, status=DeliveryStatus.SENT).exists(),
            timeout=60,
            message="the delivery to be sent",
        )
    assert any("t_async succeeded" in r["json"]["title"] for r in receiver.received)
