"""Tenancy/permission matrix for /api/forms and every form action (bifrost_site.testing.matrix).

ORG users list and use (detail, startup, submit, data providers, uploads) the active forms of their
organization and GLOBAL forms that are `authenticated`/`public`, or `role_based` with a role they
hold; a role-based form without their role is a 404 like another organization's form. Managing
forms (create, change, roles, export, import) is for platform admins. Anonymous callers may only
use `public` forms (forms_app/tests/test_api.py); every form here is non-public, so they get 401.
"""

import uuid

import pytest

from accounts.tests.factories import RoleFactory, UserRoleFactory
from bifrost_site.testing.matrix import AUTHENTICATED, OWNED, Extra, ResourceMatrix
from forms_app.models import AccessLevel
from forms_app.tests.factories import FormFactory, FormRoleFactory
from workflows.models import Workflow
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


class TestFormMatrix(ResourceMatrix):
    list_url = "/api/forms"
    detail_url = "/api/forms/{lookup}"
    scope_mode = OWNED
    readers = AUTHENTICATED
    max_list_queries = 6  # + the approver roles (approvals, DESIGN §16)
    max_member_list_queries = 5
    extras = (
        Extra("/api/forms/{lookup}/roles", methods=("GET", "PUT"), payload=lambda m, form: {"role_ids": []}),
        Extra("/api/forms/{lookup}/export"),
        Extra(
            "/api/forms/import",
            methods=("POST",),
            detail=False,
            payload=lambda m, org: m.export_payload(),
            created_organization_id=lambda m, response: response.json()["form"]["organization_id"],
        ),
        Extra("/api/forms/{lookup}/startup", methods=("POST",), org_users=True),
        Extra("/api/forms/{lookup}/submit", methods=("POST",), org_users=True, payload=lambda m, f: {"form_data": {}}),
        Extra(
            "/api/forms/{lookup}/data-providers/{provider}",
            methods=("POST",),
            org_users=True,
            url_kwargs=lambda m, form: {"provider": "licences"},
        ),
        Extra("/api/forms/{lookup}/uploads", methods=("POST",), org_users=True, payload=lambda m, f: {"field": "x"}),
    )

    def make(self, organization):
        return FormFactory(organization=organization, access_level=AccessLevel.AUTHENTICATED)

    def make_list_row(self, organization):
        # with a role grant: the list must not query per form for its roles
        return FormRoleFactory(form=FormFactory(organization=organization)).form

    def make_for_member(self, member):
        # role-based, granted through a role the member holds
        role = RoleFactory(organization=member.organization)
        UserRoleFactory(role=role, user=member)
        return FormRoleFactory(form=FormFactory(organization=member.organization), role=role).form

    def make_hidden_from_member(self, member):
        # role-based in the member's own organization, without a role of theirs
        return FormRoleFactory(form=FormFactory(organization=member.organization)).form

    def export_payload(self):
        workflow = WorkflowFactory(name=f"wf_{uuid.uuid4().hex[:10]}")
        return {"bifrost_form": 1, "name": "Imported", "workflow": workflow.name, "schema": {"fields": []}}

    def create_payload(self, organization):
        workflow = WorkflowFactory(name=f"wf_{uuid.uuid4().hex[:10]}")
        return {
            "name": f"Form {uuid.uuid4().hex[:8]}",
            "workflow": workflow.name,
            "schema": {"fields": []},
            "access_level": "authenticated",
        }

    def update_payload(self, obj):
        if not Workflow.objects.filter(name=obj.workflow).exists():  # an update re-validates the workflow
            WorkflowFactory(name=obj.workflow)
        return {"name": f"Renamed {uuid.uuid4().hex[:6]}"}
