"""MSP staff as approvers (DESIGN §16): a platform user who is not a platform admin, holding a GLOBAL role
named as an approver role, sees and decides that role's requests in every organization, through the API and
/approvals/; never their own request; without the role (or for a request naming another role) nothing is
visible (404), and the service refuses them (403)."""

import pytest
from django.test import Client
from rest_framework.exceptions import PermissionDenied

from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserFactory, UserRoleFactory
from approvals import services
from approvals.models import Approval, ApprovalStatus
from approvals.selectors import approver_emails
from approvals.tests.factories import ApprovalFactory
from conftest import client_for
from executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def msp_role():
    return RoleFactory(organization=None, name="MSP change approvers")


@pytest.fixture
def staff(admin_user, msp_role):
    """Given the GLOBAL role the way an administrator does: POST /api/roles/{id}/users."""
    user = PlatformAdminFactory(is_platform_admin=False, email="tech@msp.test")
    response = client_for(admin_user).post(
        f"/api/roles/{msp_role.id}/users", {"user_ids": [str(user.id)]}, format="json"
    )
    assert response.status_code == 200, response.content
    return user


@pytest.fixture
def plain_staff():
    return PlatformAdminFactory(is_platform_admin=False, email="intern@msp.test")


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_their_roles_requests_in_every_organization(
    org, other_org, member, outsider, admin_user, staff, msp_role
):
    contoso = ApprovalFactory(organization=org, approver_roles=[msp_role], execution__executed_by=member)
    fabrikam = ApprovalFactory(organization=other_org, approver_roles=[msp_role], execution__executed_by=outsider)
    msp_run = ApprovalFactory(organization=None, approver_roles=[msp_role], execution__executed_by=admin_user)
    other_role = ApprovalFactory(organization=org, approver_roles=[RoleFactory(organization=None)])
    org_role = ApprovalFactory(organization=org, approver_roles=[RoleFactory(organization=org)])
    no_roles = ApprovalFactory(organization=org)
    client = client_for(staff)
    assert ids(client.get("/api/approvals")) == {str(contoso.id), str(fabrikam.id), str(msp_run.id)}
    assert ids(client.get("/api/approvals", {"organization": str(other_org.id)})) == {str(fabrikam.id)}
    body = client.get(f"/api/approvals/{fabrikam.id}").json()
    assert body["can_decide"] is True
    for hidden in (other_role, org_role, no_roles):
        assert client.get(f"/api/approvals/{hidden.id}").status_code == 404
    page = signed_in(staff).get("/approvals/").content.decode()
    for shown in (contoso, fabrikam, msp_run):
        assert f'id="approval-{shown.id}"' in page
    for hidden in (other_role, org_role, no_roles):
        assert f'id="approval-{hidden.id}"' not in page


def test_staff_decide_any_organizations_request_through_the_api_and_the_page(org, other_org, member, staff, msp_role):
    first = ApprovalFactory(organization=org, approver_roles=[msp_role], execution__executed_by=member)
    second = ApprovalFactory(organization=other_org, approver_roles=[msp_role])
    response = client_for(staff).post(f"/api/approvals/{first.id}/approve", {"comment": "ok"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved" and response.json()["decided_by_name"] == "tech@msp.test"
    assert Execution.objects.get(id=first.execution_id).status == ExecutionStatus.PENDING
    page = signed_in(staff).post(f"/approvals/{second.id}/reject/", {"comment": "not today"}, follow=True)
    assert "Rejected the run of" in page.content.decode()
    assert Approval.objects.get(id=second.id).status == ApprovalStatus.REJECTED
    assert Execution.objects.get(id=second.execution_id).status == ExecutionStatus.REJECTED
    assert "tech@msp.test" in approver_emails(ApprovalFactory(organization=other_org, approver_roles=[msp_role]))


def test_staff_never_decide_their_own_request(staff, msp_role):
    own = ApprovalFactory(organization=None, approver_roles=[msp_role], execution__executed_by=staff)
    client = client_for(staff)
    assert client.get(f"/api/approvals/{own.id}").json()["can_decide"] is False
    response = client.post(f"/api/approvals/{own.id}/approve", {}, format="json")
    assert response.status_code == 403 and "your own request" in response.json()["message"]
    page = signed_in(staff).get("/approvals/").content.decode()
    assert f'id="approval-{own.id}"' not in page and 'id="requested-table"' in page  # only under "Your requests"
    with pytest.raises(PermissionDenied):
        services.approval_reject(approval_id=own.id, user=staff)
    assert Approval.objects.get(id=own.id).status == ApprovalStatus.PENDING


def test_staff_without_the_role_see_and_decide_nothing(org, plain_staff, msp_role):
    approval = ApprovalFactory(organization=org, approver_roles=[msp_role])
    client = client_for(plain_staff)
    assert ids(client.get("/api/approvals")) == set()
    assert client.get(f"/api/approvals/{approval.id}").status_code == 404
    assert client.post(f"/api/approvals/{approval.id}/approve", {}, format="json").status_code == 404
    assert signed_in(plain_staff).post(f"/approvals/{approval.id}/approve/").status_code == 404
    assert "Nothing is waiting for your decision." in signed_in(plain_staff).get("/approvals/").content.decode()
    with pytest.raises(PermissionDenied, match="not an approver"):
        services.approval_approve(approval_id=approval.id, user=plain_staff)
    assert "intern@msp.test" not in approver_emails(approval)
    assert Approval.objects.get(id=approval.id).status == ApprovalStatus.PENDING


def test_an_org_user_with_the_global_role_stays_in_their_organization(org, other_org, msp_role):
    customer = UserFactory(organization=org, email="lead@contoso.test")
    UserRoleFactory(user=customer, role=msp_role)
    own_org = ApprovalFactory(organization=org, approver_roles=[msp_role])
    theirs = ApprovalFactory(organization=other_org, approver_roles=[msp_role])
    client = client_for(customer)
    assert ids(client.get("/api/approvals")) == {str(own_org.id)}
    assert client.post(f"/api/approvals/{theirs.id}/approve", {}, format="json").status_code == 404
    with pytest.raises(PermissionDenied):
        services.approval_approve(approval_id=theirs.id, user=customer)
    response = client.post(f"/api/approvals/{own_org.id}/approve", {}, format="json")
    assert response.status_code == 200, response.content


def test_staff_invited_with_a_global_approver_role_decide_any_organizations_request(
    org, other_org, member, outsider, admin_user, msp_role, django_capture_on_commit_callbacks
):
    """The invitation route to the same place as POST /api/roles/{id}/users (DESIGN §16, §17): MSP staff
    invited with the GLOBAL approver role accept the link and decide requests of every organization."""
    import re

    from django.core import mail

    from accounts.models import User, UserType

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(
            "/api/invitations", {"email": "approver@msp.test", "role_ids": [str(msp_role.id)]}, format="json"
        )
    assert response.status_code == 201, response.content
    link = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    password = "A-fine-new-passw0rd"
    assert Client().post(link, {"password": password, "password_again": password}).status_code == 302
    approver = User.objects.get(email="approver@msp.test")
    assert (approver.user_type, approver.is_platform_admin) == (UserType.PLATFORM, False)
    contoso = ApprovalFactory(organization=org, approver_roles=[msp_role], execution__executed_by=member)
    fabrikam = ApprovalFactory(organization=other_org, approver_roles=[msp_role], execution__executed_by=outsider)
    client = client_for(approver)
    assert ids(client.get("/api/approvals")) == {str(contoso.id), str(fabrikam.id)}
    for approval in (contoso, fabrikam):
        decided = client.post(f"/api/approvals/{approval.id}/approve", {"comment": "ok"}, format="json")
        assert decided.status_code == 200, decided.content
        assert decided.json()["decided_by_name"] == "approver@msp.test"
        assert Execution.objects.get(id=approval.execution_id).status == ExecutionStatus.PENDING
