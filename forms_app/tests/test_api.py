"""Form API: CRUD, validation with field paths, tenancy/visibility matrix, roles, export/import."""

import pytest

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from audit.models import AuditLog
from conftest import client_for
from forms_app.models import Form, FormRole
from forms_app.tests.factories import FormFactory, FormRoleFactory
from workflows.tests.factories import DataProviderFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    {"name": "intro", "type": "markdown", "content": "# New user"},
    {"name": "email", "label": "Email", "type": "email", "required": True},
    {
        "name": "licence",
        "type": "select",
        "required": True,
        "data_provider": "licences",
        "data_provider_inputs": {"tier": {"mode": "static", "value": "gold"}},
    },
    {"name": "has_manager", "type": "checkbox"},
    {
        "name": "manager_email",
        "type": "email",
        "required": True,
        "visible_if": {"==": [{"var": "field.has_manager"}, True]},
    },
]


@pytest.fixture
def registry(db):
    WorkflowFactory(
        name="onboard_user",
        parameters=[
            {"name": "email", "type": "email", "required": True},
            {"name": "licence", "type": "string"},
            {"name": "has_manager", "type": "bool"},
            {"name": "manager_email", "type": "email"},
        ],
    )
    WorkflowFactory(name="hello_world", parameters=[{"name": "name", "type": "string"}])
    WorkflowFactory(
        name="prepare",
        parameters=[{"name": "tenant", "type": "string", "required": True}, {"name": "x", "type": "int"}],
    )
    DataProviderFactory(name="licences", parameters=[{"name": "tier", "type": "string", "required": True}])


def payload(**overrides):
    body = {"name": "Onboard", "workflow": "onboard_user", "schema": {"fields": FIELDS}, "access_level": "role_based"}
    body.update(overrides)
    return body


# --- CRUD and validation ----------------------------------------------------------------------


def test_admin_creates_form_in_org_scope_and_it_is_audited(registry, admin_user, org):
    client = client_for(admin_user, org)
    response = client.post("/api/forms", payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["organization_id"] == str(org.id)
    assert body["created_by"] == admin_user.email
    entry = AuditLog.objects.get(action="form.create")
    assert entry.resource_id == body["id"] and entry.organization_id == org.id

    response = client.patch(f"/api/forms/{body['id']}", {"description": "Creates a mailbox"}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "Creates a mailbox"
    assert AuditLog.objects.filter(action="form.update").exists()
    assert client.delete(f"/api/forms/{body['id']}").status_code == 204
    assert AuditLog.objects.filter(action="form.delete", resource_id=body["id"]).exists()


@pytest.mark.parametrize(
    ("fields", "path", "fragment"),
    [
        ([{"name": "a", "type": "select"}], "schema.fields[0].options", "needs options"),
        ([{"name": "a", "type": "radio", "options": []}], "schema.fields[0].options", "non-empty"),
        ([{"name": "a", "type": "html"}], "schema.fields[0].content", "content"),
        ([{"name": "a", "type": "colour"}], "schema.fields[0].type", "Unknown field type"),
        ([{"name": "a", "type": "text"}, {"name": "a", "type": "text"}], "schema.fields[1].name", "Duplicate"),
        ([{"name": "1a", "type": "text"}], "schema.fields[0].name", "letters"),
        ([{"name": "a", "type": "select", "data_provider": "nope"}], "schema.fields[0].data_provider", "nope"),
        (
            [{"name": "a", "type": "select", "data_provider": "licences"}],
            "schema.fields[0].data_provider_inputs",
            "tier",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "select",
                    "data_provider": "licences",
                    "data_provider_inputs": {"tier": {"mode": "field_ref", "field": "ghost"}},
                }
            ],
            "schema.fields[0].data_provider_inputs.tier",
            "field_ref",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "select",
                    "data_provider": "licences",
                    "data_provider_inputs": {"tier": {"mode": "expression", "expression": {"var": "secret.x"}}},
                }
            ],
            "schema.fields[0].data_provider_inputs.tier",
            "must start with",
        ),
        (
            [{"name": "a", "type": "text", "visible_if": {"method": ["x", "upper"]}}],
            "schema.fields[0].visible_if",
            "unknown",
        ),
        ([{"name": "a", "type": "text", "visible_if": {"var": "user.x"}}], "schema.fields[0].visible_if", "field."),
        (
            [{"name": "a", "type": "text", "validation": {"pattern": "("}}],
            "schema.fields[0].validation.pattern",
            "regular",
        ),
        ([{"name": "a", "type": "text", "validation": {"min": "x"}}], "schema.fields[0].validation.min", "number"),
        ([{"name": "a", "type": "file", "max_size_mb": 0}], "schema.fields[0].max_size_mb", "megabytes"),
        ([{"name": "a", "type": "text", "bogus": 1}], "schema.fields[0]", "Unknown keys"),
        ([{"name": f"f{i}", "type": "text"} for i in range(51)], "schema.fields", "at most 50"),
    ],
)
def test_schema_errors_name_the_field_path(registry, admin_client, fields, path, fragment):
    response = admin_client.post("/api/forms", payload(schema={"fields": fields}), format="json")
    assert response.status_code == 400, response.json()
    details = response.json()["details"]
    assert path in details, details
    assert any(fragment in message for message in details[path]), details[path]


def test_unknown_workflow_and_uncovered_launch_params_are_400(registry, admin_client):
    response = admin_client.post("/api/forms", payload(workflow="ghost"), format="json")
    assert "workflow" in response.json()["details"]
    response = admin_client.post("/api/forms", payload(launch_workflow="prepare"), format="json")
    assert response.status_code == 400
    assert "tenant" in response.json()["details"]["default_launch_params"][0]
    ok = admin_client.post(
        "/api/forms", payload(launch_workflow="prepare", allowed_query_params=["tenant"]), format="json"
    )
    assert ok.status_code == 201, ok.json()
    ok = admin_client.post(
        "/api/forms", payload(launch_workflow="prepare", default_launch_params={"tenant": "t"}), format="json"
    )
    assert ok.status_code == 201


def test_bad_shapes_are_400_not_500(registry, admin_client):
    for body in (
        payload(schema=[]),
        payload(schema={"fields": "x"}),
        payload(schema={"fields": [1]}),
        payload(default_launch_params=[1]),
        payload(allowed_query_params="tenant"),
        payload(access_level="secret"),
        {"workflow": "onboard_user"},
    ):
        response = admin_client.post("/api/forms", body, format="json")
        assert response.status_code == 400, (body, response.content)


# --- tenancy and visibility (401/403/404, list scope and query counts: forms_app/tests/test_matrix.py)


def test_anonymous_gets_401_everywhere_except_public_forms(registry, api_client, org):
    private = FormFactory(organization=org)
    public = FormFactory(organization=org, access_level="public")
    assert api_client.get("/api/forms").status_code == 401
    assert api_client.post("/api/forms", payload(), format="json").status_code == 401
    assert api_client.get(f"/api/forms/{private.id}").status_code == 401
    assert api_client.post(f"/api/forms/{private.id}/submit", {"form_data": {}}, format="json").status_code == 401
    assert api_client.get(f"/api/forms/{public.id}/roles").status_code == 401
    assert api_client.get(f"/api/forms/{public.id}/export").status_code == 401
    response = api_client.get(f"/api/forms/{public.id}")
    assert response.status_code == 200
    assert "default_launch_params" not in response.json()


def test_role_based_visibility(registry, org):
    form = FormFactory(organization=org, access_level="role_based")
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    holder = UserRoleFactory(role=role).user
    without_role = UserFactory(organization=org)
    holder_client, plain_client = client_for(holder), client_for(without_role)

    assert holder_client.get(f"/api/forms/{form.id}").status_code == 200
    assert [f["id"] for f in holder_client.get("/api/forms").json()["results"]] == [str(form.id)]
    assert plain_client.get(f"/api/forms/{form.id}").status_code == 404
    assert plain_client.get("/api/forms").json()["results"] == []

    role.is_active = False
    role.save()
    assert holder_client.get(f"/api/forms/{form.id}").status_code == 404


def test_global_forms_and_inactive_forms(registry, admin_user, org, member_client):
    global_auth = FormFactory(organization=None, access_level="authenticated")
    global_roles = FormFactory(organization=None, access_level="role_based")
    inactive = FormFactory(organization=org, access_level="authenticated", is_active=False)
    listed = {f["id"] for f in member_client.get("/api/forms").json()["results"]}
    assert listed == {str(global_auth.id)}
    assert member_client.get(f"/api/forms/{global_roles.id}").status_code == 404
    assert member_client.get(f"/api/forms/{inactive.id}").status_code == 404

    admin_in_org = client_for(admin_user, org)
    listed = {f["id"] for f in admin_in_org.get("/api/forms").json()["results"]}
    assert listed == {str(global_auth.id), str(global_roles.id), str(inactive.id)}
    assert admin_in_org.get(f"/api/forms/{inactive.id}").status_code == 200
    # GLOBAL scope shows only GLOBAL forms
    listed = {f["id"] for f in client_for(admin_user).get("/api/forms").json()["results"]}
    assert listed == {str(global_auth.id), str(global_roles.id)}
    # a GLOBAL form cannot be changed from an org scope
    response = admin_in_org.patch(f"/api/forms/{global_auth.id}", {"name": "x"}, format="json")
    assert response.status_code == 403


# --- roles --------------------------------------------------------------------------------------


def test_roles_get_and_put(registry, admin_user, org, other_org):
    client = client_for(admin_user, org)
    form = FormFactory(organization=org)
    mine, global_role, foreign = (
        RoleFactory(organization=org),
        RoleFactory(organization=None),
        RoleFactory(organization=other_org),
    )
    response = client.put(
        f"/api/forms/{form.id}/roles", {"role_ids": [str(mine.id), str(global_role.id)]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert set(response.json()["role_ids"]) == {str(mine.id), str(global_role.id)}
    assert FormRole.objects.get(form=form, role=mine).assigned_by == admin_user
    assert AuditLog.objects.filter(action="form.roles_update").exists()

    response = client.put(f"/api/forms/{form.id}/roles", {"role_ids": [str(foreign.id)]}, format="json")
    assert response.status_code == 400 and "role_ids" in response.json()["details"]
    response = client.put(f"/api/forms/{form.id}/roles", {"role_ids": ["not-a-uuid"]}, format="json")
    assert response.status_code == 400

    response = client.put(f"/api/forms/{form.id}/roles", {"role_ids": [str(mine.id)]}, format="json")
    assert response.json()["role_ids"] == [str(mine.id)]
    assert client.get(f"/api/forms/{form.id}/roles").json()["roles"][0]["role_name"] == mine.name


# --- export / import ----------------------------------------------------------------------------


def test_export_then_import_into_another_scope(registry, admin_user, org, other_org):
    source = client_for(admin_user, org)
    form_id = source.post("/api/forms", payload(), format="json").json()["id"]
    role = RoleFactory(organization=org, name="Helpdesk")
    source.put(f"/api/forms/{form_id}/roles", {"role_ids": [str(role.id)]}, format="json")
    exported = source.get(f"/api/forms/{form_id}/export").json()
    assert exported["roles"] == ["Helpdesk"] and exported["schema"]["fields"] == FIELDS
    assert "id" not in exported

    RoleFactory(organization=other_org, name="Helpdesk")
    target = client_for(admin_user, other_org)
    response = target.post("/api/forms/import", exported, format="json")
    assert response.status_code == 201, response.json()
    imported = Form.objects.get(id=response.json()["form"]["id"])
    assert imported.organization == other_org
    assert [fr.role.organization for fr in imported.form_roles.all()] == [other_org]
    assert response.json()["skipped_roles"] == []

    exported["roles"] = ["Nobody"]
    exported["schema"] = {"fields": [{"name": "a", "type": "select"}]}
    response = target.post("/api/forms/import", exported, format="json")
    assert response.status_code == 400 and "schema.fields[0].options" in response.json()["details"]
    assert target.post("/api/forms/import", [1, 2], format="json").status_code == 400


def test_any_admin_creates_global_form_without_header(registry, admin_client):
    response = admin_client.post("/api/forms", payload(access_level="public"), format="json")
    assert response.status_code == 201 and response.json()["organization_id"] is None
