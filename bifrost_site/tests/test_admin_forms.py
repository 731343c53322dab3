"""Forms in the admin (issue 21 item 5): workflows picked from the available ones; a schema skeleton from
the workflow's parameters; the schema checked as you type by the API's validator (errors by path); a
preview of the unsaved form; JSON fields empty, never `null`."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from forms_app.models import Form
from forms_app.validation import form_definition_errors
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/forms_app/form/"
PARAMETERS = [
    {"name": "user_email", "type": "email", "required": True, "label": "E-mail", "help_text": "Their work address"},
    {"name": "licence_count", "type": "int", "validation": {"min": 1, "max": 5}, "default_value": 1},
    {"name": "send_welcome", "type": "bool"},
    {"name": "start_date", "type": "date"},
    {"name": "notes", "type": "json"},
]


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def onboard():
    WorkflowFactory(name="retired", is_available=False)
    return WorkflowFactory(name="onboard_user", parameters=PARAMETERS)


def _post_json(browser, url, body):
    return browser.post(url, json.dumps(body), content_type="application/json")


def test_workflows_are_picked_from_the_available_ones_and_json_fields_start_empty(browser, onboard):
    response = browser.get(f"{BASE}add/")
    form = response.context["adminform"].form
    assert [value for value, _ in form.fields["workflow"].choices] == ["", "onboard_user"]
    assert [value for value, _ in form.fields["launch_workflow"].choices] == ["", "onboard_user"]
    html = response.content.decode()
    assert "null</textarea>" not in html
    assert (
        "bifrost_site/admin/form_editor.js" in html
        and 'data-validate-url="/admin/forms_app/form/schema/validate/"' in html
    )


def test_a_form_of_a_retired_workflow_keeps_it_labelled_unavailable(browser, onboard):
    from forms_app.tests.factories import FormFactory

    form = FormFactory(workflow="retired")
    choices = dict(browser.get(f"{BASE}{form.pk}/change/").context["adminform"].form.fields["workflow"].choices)
    assert choices["retired"] == "retired (unavailable)"


def test_the_skeleton_has_one_valid_field_per_parameter(browser, onboard):
    response = browser.get(f"{BASE}schema/skeleton/", {"workflow": "onboard_user"})
    schema = response.json()["schema"]
    assert [(f["name"], f["type"]) for f in schema["fields"]] == [
        ("user_email", "email"),
        ("licence_count", "number"),
        ("send_welcome", "checkbox"),
        ("start_date", "date"),
        ("notes", "textarea"),
    ]
    first = schema["fields"][0]
    assert first["label"] == "E-mail" and first["required"] and first["help_text"] == "Their work address"
    assert schema["fields"][1]["validation"] == {"min": 1, "max": 5} and schema["fields"][1]["default_value"] == 1
    assert form_definition_errors(schema=schema, workflow="onboard_user") == {}
    assert browser.get(f"{BASE}schema/skeleton/", {"workflow": "nope"}).status_code == 404


def test_validate_answers_the_apis_errors_by_path(browser, onboard):
    body = {"schema": {"fields": [{"name": "x", "label": "X", "type": "colour"}]}, "workflow": "onboard_user"}
    errors = _post_json(browser, f"{BASE}schema/validate/", body).json()["errors"]
    assert errors == form_definition_errors(schema=body["schema"], workflow="onboard_user")
    assert any(path.startswith("schema.fields[0]") for path in errors)
    good = {"schema": {"fields": [{"name": "x", "label": "X", "type": "text"}]}, "workflow": "onboard_user"}
    assert _post_json(browser, f"{BASE}schema/validate/", good).json() == {"errors": {}}
    assert browser.get(f"{BASE}schema/validate/").status_code == 405


def test_the_preview_renders_the_unsaved_fields(browser, onboard):
    schema = {
        "fields": [
            {"name": "user_email", "label": "E-mail", "type": "email", "required": True, "help_text": "Work address"},
            {"name": "plan", "label": "Plan", "type": "select", "options": [{"label": "Gold", "value": "gold"}]},
            {"name": "intro", "type": "markdown", "content": "**Hello** <script>alert(1)</script>"},
        ]
    }
    html = _post_json(browser, f"{BASE}schema/preview/", {"schema": schema}).content.decode()
    assert 'type="email"' in html and "E-mail" in html and "Work address" in html
    assert '<option value="gold">Gold</option>' in html
    assert "<strong>Hello</strong>" in html and "<script>" not in html
    assert "No fields yet." in _post_json(browser, f"{BASE}schema/preview/", {"schema": "junk"}).content.decode()


def test_the_editor_endpoints_are_for_staff_only(member, onboard):
    client = Client()
    client.force_login(member)
    response = client.get(f"{BASE}schema/skeleton/", {"workflow": "onboard_user"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_form_saved_from_the_admin_with_a_picked_workflow(browser, onboard):
    schema = {"fields": [{"name": "user_email", "label": "E-mail", "type": "email", "required": True}]}
    response = browser.post(
        f"{BASE}add/",
        {
            "name": "Onboard",
            "description": "",
            "organization": "",
            "access_level": "authenticated",
            "is_active": "on",
            "workflow": "onboard_user",
            "launch_workflow": "",
            "default_launch_params": "",
            "allowed_query_params": "",
            "schema": json.dumps(schema),
            "form_roles-TOTAL_FORMS": "0",
            "form_roles-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    form = Form.objects.get(name="Onboard")
    assert form.workflow == "onboard_user" and form.default_launch_params == {} and form.allowed_query_params == []
    refused = browser.post(f"{BASE}add/", {"name": "X", "workflow": "retired", "schema": json.dumps(schema)})
    assert "Select a valid choice" in str(refused.context["adminform"].form.errors["workflow"])
