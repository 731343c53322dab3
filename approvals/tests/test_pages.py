"""/approvals/ (server-rendered) and the run page's approval block."""

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from approvals.models import Approval, ApprovalStatus
from approvals.tests.factories import ApprovalFactory
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def role(org):
    return RoleFactory(organization=org, name="Change approvers")


@pytest.fixture
def approver(org, role):
    user = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=user, role=role)
    return user


def signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_page_lists_what_to_decide_and_own_requests_and_the_nav_links_it(org, member, approver, role):
    waiting = ApprovalFactory(organization=org, approver_roles=[role], execution__parameters={"mailbox": "ceo@x"})
    mine = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    html = signed_in(approver).get("/approvals/").content.decode()
    assert f'id="approval-{waiting.id}"' in html and "ceo@x" in html
    assert f'id="approval-{mine.id}"' in html  # the approver decides a colleague's request
    assert 'href="/approvals/" aria-current="page">Approvals</a>' in html
    own = signed_in(member).get("/approvals/").content.decode()
    assert f'id="approval-{mine.id}"' not in own  # never offered their own request
    assert "Nothing is waiting for your decision." in own
    assert mine.workflow_name in own and 'id="requested-table"' in own


def test_approve_and_reject_through_the_page(org, member, approver, role):
    one = ApprovalFactory(organization=org, approver_roles=[role])
    two = ApprovalFactory(organization=org, approver_roles=[role])
    client = signed_in(approver)
    response = client.post(f"/approvals/{one.id}/approve/", {"comment": "ok"}, follow=True)
    assert "Approved the run of" in response.content.decode()
    assert Approval.objects.get(id=one.id).status == ApprovalStatus.APPROVED
    client.post(f"/approvals/{two.id}/reject/", {"comment": "not now"})
    assert Approval.objects.get(id=two.id).status == ApprovalStatus.REJECTED
    assert Execution.objects.get(id=two.execution_id).status == ExecutionStatus.REJECTED
    again = client.post(f"/approvals/{two.id}/approve/", follow=True).content.decode()
    assert "already decided" in again


def test_requester_is_refused_and_another_org_is_404(org, other_org, member, role):
    mine = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    UserRoleFactory(user=member, role=role)
    html = signed_in(member).post(f"/approvals/{mine.id}/approve/", follow=True).content.decode()
    assert "cannot decide your own request" in html
    assert Approval.objects.get(id=mine.id).status == ApprovalStatus.PENDING
    theirs = ApprovalFactory(organization=other_org)
    assert signed_in(member).post(f"/approvals/{theirs.id}/approve/").status_code == 404
    assert signed_in(member).get("/approvals/").status_code == 200
    assert Client().get("/approvals/").status_code == 302  # sign in first


def test_decisions_need_csrf(org, approver, role):
    approval = ApprovalFactory(organization=org, approver_roles=[role])
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)
    assert client.post(f"/approvals/{approval.id}/approve/").status_code == 403


def test_run_page_shows_the_approval_state(org, member, approver, role):
    approval = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    page = signed_in(member).get(f"/executions/{approval.execution_id}/").content.decode()
    assert 'id="approval-state"' in page and "Pending" in page
    signed_in(approver).post(f"/approvals/{approval.id}/reject/", {"comment": "too risky"})
    page = signed_in(member).get(f"/executions/{approval.execution_id}/").content.decode()
    assert "approver@contoso.test" in page and "too risky" in page
    assert "Rejected by approver@contoso.test: too risky" in page  # not the generic error sentence
    assert "An error occurred during execution" not in page
