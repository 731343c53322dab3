"""Tenancy/permission matrix for /api/approvals (bifrost_site.testing.matrix).

Everyone signed in may call it; what they see is narrowed: platform admins by scope, ORG users to their
organization's approvals they requested or hold an approver role for. A colleague's request they cannot
decide is a 404 like another organization's."""

import pytest

from approvals.tests.factories import ApprovalFactory
from bifrost_site.testing.matrix import ACTIVITY, AUTHENTICATED, Extra, ResourceMatrix

pytestmark = pytest.mark.django_db


class TestApprovalMatrix(ResourceMatrix):
    list_url = "/api/approvals"
    detail_url = "/api/approvals/{lookup}"
    scope_mode = ACTIVITY
    readers = AUTHENTICATED
    list_methods = ("GET",)
    detail_methods = ("GET",)
    max_list_queries = 6
    max_member_list_queries = 8
    extras = (
        Extra("/api/approvals/{lookup}/approve", methods=("POST",), org_users=True),
        Extra("/api/approvals/{lookup}/reject", methods=("POST",), org_users=True),
    )

    def make(self, organization):
        if organization is None:  # a schedule's or webhook's GLOBAL run: no requesting user
            return ApprovalFactory(organization=None, execution__executed_by=None, execution__executed_by_name="system")
        return ApprovalFactory(organization=organization)

    def make_for_member(self, member):
        return ApprovalFactory(organization=member.organization, execution__executed_by=member)

    def make_hidden_from_member(self, member):
        return ApprovalFactory(organization=member.organization)
