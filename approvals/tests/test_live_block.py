"""The run page's approval card, live: the page carries the card's URL and script, and the card alone
(/approvals/execution/<id>/block/) follows the decision, with the run page's own visibility (404 otherwise)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from approvals import services
from approvals.models import Approval
from approvals.tests.factories import ApprovalFactory
from executions.models import Execution
from executions.tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def role(org):
    return RoleFactory(organization=org, name="Change approvers")


@pytest.fixture
def approver(org, role):
    user = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=user, role=role)
    return user


@pytest.fixture
def approval(org, member, role):
    return ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def block_url(approval) -> str:
    return f"/approvals/execution/{approval.execution_id}/block/"


def test_the_run_page_carries_the_live_card(member, approval):
    page = signed_in(member).get(f"/executions/{approval.execution_id}/").content.decode()
    assert f'data-url="{block_url(approval)}"' in page
    assert 'data-run-status="AwaitingApproval"' in page and 'data-approval-status="pending"' in page
    assert "approvals/execution_approval.js" in page
    assert 'id="approval-cancel-form"' in page  # a waiting run can be cancelled from its page
    plain = ExecutionFactory(organization=approval.organization, executed_by=member)
    page = signed_in(member).get(f"/executions/{plain.id}/").content.decode()
    assert "approval-live" not in page and "execution_approval.js" not in page


def test_the_card_follows_the_decision(member, approver, approval):
    client = signed_in(member)
    response = client.get(block_url(approval))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    html = response.content.decode()
    assert html.lstrip().startswith("<section") and 'id="approval-state"' in html
    assert 'data-approval-status="pending"' in html and "Pending" in html and "Expires" in html
    assert "<html" not in html  # the card alone, not a page
    services.approval_reject(approval_id=approval.id, user=approver, comment="too risky <b>now</b>")
    html = client.get(block_url(approval)).content.decode()
    assert 'data-approval-status="rejected"' in html and "Rejected" in html
    assert "approver@contoso.test" in html and "too risky &lt;b&gt;now&lt;/b&gt;" in html  # escaped
    assert 'id="approval-decided-at"' in html and "<time" in html
    assert "approval-cancel-form" not in html


def test_approved_expired_and_cancelled_cards(org, member, approver, role, admin_user):
    approved = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    services.approval_approve(approval_id=approved.id, user=approver, comment="ok")
    html = signed_in(member).get(block_url(approved)).content.decode()
    assert 'data-approval-status="approved"' in html and "runs with the parameters as submitted" in html
    expired = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    Approval.objects.filter(id=expired.id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    services.approvals_expire_due()
    html = signed_in(member).get(block_url(expired)).content.decode()
    assert 'data-approval-status="expired"' in html and "Nobody approved the run in time" in html
    cancelled = ApprovalFactory(organization=org, execution__executed_by=member, approver_roles=[role])
    assert signed_in(member).post(f"/executions/{cancelled.execution_id}/cancel/").status_code == 302
    html = signed_in(admin_user).get(block_url(cancelled)).content.decode()
    assert 'data-approval-status="cancelled"' in html and "cancelled before anyone decided" in html


def test_only_who_sees_the_run_sees_the_card(org, other_org, member, outsider, approver, approval, admin_user):
    assert signed_in(admin_user).get(block_url(approval)).status_code == 200
    assert signed_in(outsider).get(block_url(approval)).status_code == 404  # another organization
    assert signed_in(approver).get(block_url(approval)).status_code == 404  # a colleague's run: not their page
    assert Client().get(block_url(approval)).status_code == 302  # sign in first
    plain = ExecutionFactory(organization=org, executed_by=member)
    assert signed_in(member).get(f"/approvals/execution/{plain.id}/block/").status_code == 404  # no approval
    assert signed_in(member).get("/approvals/execution/not-a-uuid/block/").status_code == 404
    assert signed_in(member).post(block_url(approval)).status_code == 405


def test_the_card_never_shows_exception_text(org, member, approval):
    Execution.objects.filter(id=approval.execution_id).update(
        error_type="KeyError", error_message="Traceback (most recent call last): KeyError: 'secret-token'"
    )
    html = signed_in(member).get(block_url(approval)).content.decode()
    assert "Traceback" not in html and "secret-token" not in html and "KeyError" not in html
