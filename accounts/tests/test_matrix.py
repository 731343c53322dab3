"""Tenancy/permission matrix for /api/users and /api/roles (bifrost_site.testing.matrix)."""

import uuid

import pytest

from accounts.models import UserType
from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from bifrost_site.testing.matrix import ACTIVITY, OWNED, Extra, ResourceMatrix
from forms_app.tests.factories import FormFactory, FormRoleFactory

pytestmark = pytest.mark.django_db


class TestUserMatrix(ResourceMatrix):
    list_url = "/api/users"
    detail_url = "/api/users/{lookup}"
    scope_mode = ACTIVITY
    max_list_queries = 4
    extras = (
        Extra("/api/users/{lookup}/roles"),
        Extra(
            "/api/users/{lookup}/password", methods=("POST",), payload=lambda m, obj: {"password": "Tr0ub4dor&3-long"}
        ),
    )

    def make(self, organization):
        if organization is None:
            return UserFactory(organization=None, user_type=UserType.PLATFORM)
        return UserFactory(organization=organization)

    def create_payload(self, organization):
        return {"email": f"new-{uuid.uuid4().hex[:8]}@example.test", "name": "New Person"}

    def update_payload(self, obj):
        return {"name": "Renamed Person"}


def _member_of(matrix, role):
    return {"user_id": UserRoleFactory(role=role).user_id}


def _form_of(matrix, role):
    return {"form_id": FormRoleFactory(role=role, form=FormFactory(organization=role.organization)).form_id}


class TestRoleMatrix(ResourceMatrix):
    list_url = "/api/roles"
    detail_url = "/api/roles/{lookup}"
    scope_mode = OWNED
    max_list_queries = 4
    extras = (
        Extra(
            "/api/roles/{lookup}/users",
            methods=("GET", "POST"),
            payload=lambda m, role: {"user_ids": [str(UserFactory(organization=role.organization).id)]},
        ),
        Extra("/api/roles/{lookup}/users/{user_id}", methods=("DELETE",), url_kwargs=_member_of),
        Extra(
            "/api/roles/{lookup}/forms",
            methods=("GET", "POST"),
            payload=lambda m, role: {"form_ids": [str(FormFactory(organization=role.organization).id)]},
        ),
        Extra("/api/roles/{lookup}/forms/{form_id}", methods=("DELETE",), url_kwargs=_form_of),
    )

    def make(self, organization):
        return RoleFactory(organization=organization)

    def create_payload(self, organization):
        return {"name": f"Role {uuid.uuid4().hex[:8]}", "description": "helpdesk"}

    def update_payload(self, obj):
        return {"name": f"Renamed {uuid.uuid4().hex[:6]}"}
