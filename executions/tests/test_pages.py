import json
import re

import pytest
from django.test import Client

from executions.tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def client_as(user):
    client = Client()
    client.force_login(user)
    return client


def page_data(response, element_id="execution-data"):
    match = re.search(
        rb'<script id="%s" type="application/json">(.*?)</script>' % element_id.encode(), response.content
    )
    return json.loads(match.group(1))


def test_pages_require_a_session(executions_world):
    response = Client().get(f"/executions/{executions_world['mine'].id}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/executions/")
    assert Client().get("/executions/")["Location"] == "/login/?next=/executions/"


def test_log_viewer_uses_the_api_visibility(executions_world, member, admin_user):
    assert client_as(member).get(f"/executions/{executions_world['mine'].id}/").status_code == 200
    for other in ("colleague", "other_org", "global"):
        assert client_as(member).get(f"/executions/{executions_world[other].id}/").status_code == 404
        assert client_as(member).get(f"/executions/{executions_world[other].id}/result/").status_code == 404
    assert client_as(member).get("/executions/not-a-uuid/").status_code == 404
    for execution in executions_world.values():
        assert client_as(admin_user).get(f"/executions/{execution.id}/").status_code == 200


def test_log_viewer_renders_facts_parameters_and_page_data(member, org):
    execution = ExecutionFactory(
        organization=org,
        executed_by=member,
        workflow_name="onboard_user",
        status="Running",
        parameters={"email": "new@contoso.test"},
        duration_ms=None,
        completed_at=None,
    )
    response = client_as(member).get(f"/executions/{execution.id}/")
    html = response.content.decode()
    assert "onboard_user" in html and 'data-status="Running"' in html
    assert "new@contoso.test" in html and org.name in html
    assert 'id="log-pane"' in html and "executions/log_viewer.js" in html
    assert "<script>" not in html  # no inline scripts: data travels in json_script
    data = page_data(response)
    assert data["ws_path"] == f"/ws/executions/{execution.id}/"
    assert data["api_url"] == f"/api/executions/{execution.id}"
    assert data["is_complete"] is False


def test_html_results_are_sanitized_and_sandboxed(member, org):
    execution = ExecutionFactory(
        organization=org,
        executed_by=member,
        result='<h2 onclick="steal()">Done</h2><script>alert(1)</script><img src=x onerror="boom()">',
        result_type="html",
    )
    for url in (f"/executions/{execution.id}/", f"/executions/{execution.id}/result/"):
        html = client_as(member).get(url).content.decode()
        assert 'sandbox=""' in html
        srcdoc = re.search(r'srcdoc="([^"]*)"', html).group(1)
        assert "&lt;h2&gt;Done&lt;/h2&gt;" in srcdoc
        assert "script" not in srcdoc and "onclick" not in srcdoc and "onerror" not in srcdoc


def test_json_and_text_results(member, org):
    as_json = ExecutionFactory(organization=org, executed_by=member, result={"b": 1, "a": [1, 2]}, result_type="json")
    html = client_as(member).get(f"/executions/{as_json.id}/").content.decode()
    assert '<pre class="json" id="result-json">{\n  &quot;a&quot;: [' in html
    as_text = ExecutionFactory(organization=org, executed_by=member, result="<plain> & text", result_type="text")
    html = client_as(member).get(f"/executions/{as_text.id}/result/").content.decode()
    assert '<pre class="text" id="result-text">&lt;plain&gt; &amp; text</pre>' in html


def test_org_users_see_only_user_errors_on_the_page(member, admin_user, org):
    execution = ExecutionFactory(
        organization=org, executed_by=member, status="Failed", error_type="KeyError", error_message="internal detail"
    )
    html = client_as(member).get(f"/executions/{execution.id}/").content.decode()
    assert "An error occurred during execution" in html and "internal detail" not in html
    html = client_as(admin_user).get(f"/executions/{execution.id}/").content.decode()
    assert "internal detail" in html and "KeyError" in html


def test_history_page_lists_only_visible_executions(executions_world, member, admin_user):
    html = client_as(member).get("/executions/").content.decode()
    assert str(executions_world["mine"].id) in html
    assert all(str(executions_world[k].id) not in html for k in ("colleague", "other_org", "global"))
    html = client_as(admin_user).get("/executions/").content.decode()
    assert all(str(e.id) in html for e in executions_world.values())
    html = client_as(admin_user).get("/executions/", {"workflow_name": "mine"}).content.decode()
    assert str(executions_world["mine"].id) in html and str(executions_world["colleague"].id) not in html
    html = client_as(admin_user).get("/executions/", {"status": "Bogus"}).content.decode()
    assert str(executions_world["mine"].id) in html  # an unknown status filter is ignored


def test_admin_changelist_links_to_the_log_viewer(executions_world, admin_user):
    html = client_as(admin_user).get("/admin/executions/execution/").content.decode()
    assert f'href="/executions/{executions_world["mine"].id}/"' in html
