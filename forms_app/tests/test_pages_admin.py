"""Pages (/forms/, /forms/<id>/) and the admin's JSON editor."""

import json

import pytest
from django.test import Client

from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from forms_app.models import Form
from forms_app.rendering import render_markdown, sanitize_html
from forms_app.tests.factories import FormFactory, FormRoleFactory
from forms_app.tests.test_api import FIELDS, registry  # noqa: F401

pytestmark = pytest.mark.django_db


def session_client(user):
    client = Client()
    client.force_login(user)
    return client


def page_config(response):
    html = response.content.decode()
    start = html.index('<script id="form-config" type="application/json">') + len(
        '<script id="form-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_list_page_requires_login_and_shows_usable_forms(registry, org):  # noqa: F811
    mine = FormFactory(organization=org, access_level="authenticated", name="Reset password")
    FormFactory(organization=org, access_level="role_based", name="Secret form")
    response = Client().get("/forms/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/forms/")
    response = session_client(UserFactory(organization=org)).get("/forms/")
    assert response.status_code == 200
    assert mine.name in response.content.decode() and "Secret form" not in response.content.decode()


def test_form_page_renders_config_without_inline_script(org):
    form = FormFactory(
        organization=org,
        access_level="role_based",
        schema={"fields": [*FIELDS, {"name": "note", "type": "html", "content": "<b>hi</b><script>x()</script>"}]},
    )
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    user = UserRoleFactory(role=role).user
    response = session_client(user).get(f"/forms/{form.id}/?email=a@b.test")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html  # only src= scripts and the JSON data block
    config = page_config(response)
    assert config["api_base"] == f"/api/forms/{form.id}"
    assert config["query"] == {"email": "a@b.test"}
    assert config["organization_id"] is None
    note = next(f for f in config["fields"] if f["name"] == "note")
    assert note["rendered"] == "<b>hi</b>" and "content" not in note
    intro = next(f for f in config["fields"] if f["name"] == "intro")
    assert intro["rendered"] == "<h1>New user</h1>"
    assert "csrfmiddlewaretoken" in html


def test_form_page_visibility(org, other_org, admin_user):
    form = FormFactory(organization=org, access_level="role_based")
    assert Client().get(f"/forms/{form.id}/").status_code == 302
    assert session_client(UserFactory(organization=org)).get(f"/forms/{form.id}/").status_code == 404
    assert session_client(UserFactory(organization=other_org)).get(f"/forms/{form.id}/").status_code == 404
    response = session_client(admin_user).get(f"/forms/{form.id}/")  # preview
    assert response.status_code == 200 and page_config(response)["organization_id"] == str(org.id)
    public = FormFactory(organization=org, access_level="public")
    assert Client().get(f"/forms/{public.id}/").status_code == 200


def test_markdown_is_escaped_and_sanitised():
    html = render_markdown("# Title\n\nSome **bold** and [link](https://x.test) <script>bad()</script>\n\n- a\n- b")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<li>a</li>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert render_markdown("[x](javascript:alert(1))").count("href") == 0
    assert "onerror" not in sanitize_html('<img src=x onerror="alert(1)">')


def test_admin_json_editor_validates_with_the_same_rules(registry, admin_user):  # noqa: F811
    client = session_client(admin_user)
    data = {
        "name": "Via admin",
        "description": "",
        "workflow": "onboard_user",
        "launch_workflow": "",
        "default_launch_params": "{}",
        "allowed_query_params": "[]",
        "access_level": "authenticated",
        "is_active": "on",
        "schema": json.dumps({"fields": [{"name": "a", "type": "select"}]}),
        "form_roles-TOTAL_FORMS": "0",
        "form_roles-INITIAL_FORMS": "0",
    }
    response = client.post("/admin/forms_app/form/add/", data)
    assert response.status_code == 200
    assert "schema.fields[0].options" in response.content.decode()
    data["schema"] = json.dumps({"fields": [{"name": "a", "type": "text"}]})
    response = client.post("/admin/forms_app/form/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    form = Form.objects.get(name="Via admin")
    assert form.created_by == admin_user
    change = client.get(f"/admin/forms_app/form/{form.id}/change/").content.decode()
    assert f'href="/forms/{form.id}/"' in change
    assert "&quot;fields&quot;: [\n" in change  # pretty-printed
