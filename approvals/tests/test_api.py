"""/api/approvals: who sees what, decisions through the API, 403 / 404 / 409."""

import pytest

from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserFactory, UserRoleFactory
from approvals.models import ApprovalStatus
from approvals.tests.factories import ApprovalFactory
from conftest import client_for
from executions.models import Execution, ExecutionStatus
from orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def role(org):
    return RoleFactory(organization=org, name="Change approvers")


@pytest.fixture
def approver(org, role):
    user = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=user, role=role)
    return user


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_lists_what_the_user_may_decide_and_what_they_requested(org, member, approver, role):
    for_approver = ApprovalFactory(organization=org, approver_roles=[role])
    requested = ApprovalFactory(organization=org, execution__executed_by=member)
    unrelated = ApprovalFactory(organization=org)
    assert ids(client_for(approver).get("/api/approvals")) == {str(for_approver.id)}
    assert ids(client_for(member).get("/api/approvals")) == {str(requested.id)}
    seen = ids(client_for(PlatformAdminFactory()).get("/api/approvals"))
    assert {str(for_approver.id), str(requested.id), str(unrelated.id)} <= seen
    body = client_for(approver).get(f"/api/approvals/{for_approver.id}").json()
    assert body["can_decide"] is True and body["status"] == "pending"
    assert client_for(member).get(f"/api/approvals/{requested.id}").json()["can_decide"] is False


def test_filters(org, other_org, admin_user):
    a = ApprovalFactory(organization=org, execution__workflow_name="reset_password")
    b = ApprovalFactory(organization=other_org, status=ApprovalStatus.REJECTED)
    client = client_for(admin_user)
    assert ids(client.get("/api/approvals", {"workflow_name": "reset_password"})) == {str(a.id)}
    assert ids(client.get("/api/approvals", {"status": "rejected"})) == {str(b.id)}
    assert ids(client.get("/api/approvals", {"organization": str(org.id)})) == {str(a.id)}
    assert client.get("/api/approvals", {"status": "maybe"}).status_code == 400


def test_approve_reject_four_eyes_and_409(org, member, approver, role):
    approval = ApprovalFactory(organization=org, approver_roles=[role], execution__executed_by=member)
    # the requester is refused, even though they see their request
    response = client_for(member).post(f"/api/approvals/{approval.id}/approve", {}, format="json")
    assert response.status_code == 403, response.content
    response = client_for(approver).post(
        f"/api/approvals/{approval.id}/reject", {"comment": "not today"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected" and response.json()["comment"] == "not today"
    assert Execution.objects.get(id=approval.execution_id).status == ExecutionStatus.REJECTED
    again = client_for(approver).post(f"/api/approvals/{approval.id}/approve", {}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_another_organizations_approval_is_404(org, other_org, role):
    theirs = ApprovalFactory(organization=other_org)
    # an approver of another organization holding a GLOBAL approver role still cannot reach it
    global_role = RoleFactory(organization=None, name="MSP approvers")
    theirs.approver_roles.add(global_role)
    outsider = UserFactory(organization=org)
    UserRoleFactory(user=outsider, role=global_role)
    client = client_for(outsider)
    assert client.get(f"/api/approvals/{theirs.id}").status_code == 404
    assert client.post(f"/api/approvals/{theirs.id}/approve", {}, format="json").status_code == 404
    # a GLOBAL role holder in the request's own organization decides it
    mine = ApprovalFactory(organization=org)
    mine.approver_roles.add(global_role)
    assert client.post(f"/api/approvals/{mine.id}/approve", {}, format="json").status_code == 200


def test_comment_is_validated(org, approver, role):
    approval = ApprovalFactory(organization=org, approver_roles=[role])
    response = client_for(approver).post(f"/api/approvals/{approval.id}/reject", {"comment": "x" * 3000}, format="json")
    assert response.status_code == 400 and "comment" in response.json()["details"]


def test_an_admin_overrides_a_workflows_policy_and_discovery_keeps_it(admin_user, org, member):
    from audit.models import AuditLog
    from executions.services import execution_start
    from workflows.tests.factories import WorkflowFactory

    workflow = WorkflowFactory(name="reset_mfa")
    client = client_for(admin_user)
    bad = client.patch("/api/workflows/reset_mfa", {"approval": {"approvers": ["x"]}}, format="json")
    assert bad.status_code == 400 and "approval" in bad.json()["details"]
    response = client.patch(
        "/api/workflows/reset_mfa", {"approval": {"approver_roles": ["Change approvers"], "timeout_hours": 4}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["approval_policy_override"]["timeout_hours"] == 4
    assert AuditLog.objects.filter(action="workflow.update", resource_id="reset_mfa").exists()
    run = execution_start(workflow_name="reset_mfa", parameters={}, trigger="manual", organization=org, user=member)
    assert run.execution.status == ExecutionStatus.AWAITING_APPROVAL
    client.patch("/api/workflows/reset_mfa", {"approval": {}}, format="json")  # off, whatever the code declares
    workflow.refresh_from_db()
    assert workflow.approval_policy_override == {} and workflow.effective_approval_policy is None


def test_a_form_needing_approval_through_the_forms_api(admin_user, org, member, role):
    from forms_app.models import Form
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(name="offboard_user")
    client = client_for(admin_user, org)
    created = client.post(
        "/api/forms",
        {
            "name": "Offboard a user", "workflow": "offboard_user", "requires_approval": True,
            "approver_role_ids": [str(role.id)], "approval_timeout_hours": 8,
        },
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["requires_approval"] is True and body["approver_role_ids"] == [str(role.id)]
    assert body["approval_timeout_hours"] == 8
    foreign = RoleFactory(organization=OrganizationFactory())
    bad = client.patch(f"/api/forms/{body['id']}", {"approver_role_ids": [str(foreign.id)]}, format="json")
    assert bad.status_code == 400 and "approver_role_ids" in bad.json()["details"]
    off = client.patch(f"/api/forms/{body['id']}", {"requires_approval": False}, format="json")
    assert off.status_code == 200 and off.json()["requires_approval"] is False
    assert Form.objects.get(id=body["id"]).approver_roles.count() == 1


def test_the_admin_edits_a_workflows_approval_override(admin_user):
    """The workflow's admin form validates the override like the decorator (the page itself, with its
    schedules inline, is covered by the admin console's tests)."""
    from django.test import Client

    from workflows.admin import WorkflowAdminForm
    from workflows.tests.factories import WorkflowFactory

    workflow = WorkflowFactory(name="wipe_device")
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get(f"/admin/workflows/workflow/{workflow.pk}/change/").status_code == 200
    bad = WorkflowAdminForm(
        data={"schedule_overlap": "skip", "approval_policy_override": '{"who": 1}'}, instance=workflow
    )
    assert not bad.is_valid() and "unknown key" in str(bad.errors)
    ok = WorkflowAdminForm(
        data={"schedule_overlap": "skip", "approval_policy_override": '{"timeout_hours": 5}'}, instance=workflow
    )
    assert ok.is_valid(), ok.errors
    ok.save()
    workflow.refresh_from_db()
    assert workflow.approval_policy_override == {"approver_role_ids": [], "approver_roles": [], "timeout_hours": 5}
