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
    html = client_as(admin_user).get("/executions/", {"workflow": "mine"}).content.decode()
    assert str(executions_world["mine"].id) in html and str(executions_world["colleague"].id) not in html
    html = client_as(admin_user).get("/executions/", {"status": "Bogus"}).content.decode()
    assert str(executions_world["mine"].id) in html  # an unknown status filter is ignored


def test_admin_changelist_links_to_the_log_viewer(executions_world, admin_user):
    html = client_as(admin_user).get("/admin/executions/execution/").content.decode()
    assert f'href="/executions/{executions_world["mine"].id}/"' in html


# --- the portal's run history (issue 20) -----------------------------------------------------------


def history_ids(response):
    return re.findall(r'<tr data-execution-id="([^"]+)"', response.content.decode())


def make_runs(count, **fields):
    """`count` executions created one second apart, newest last."""
    import datetime

    from django.utils import timezone

    from executions.models import Execution

    start = timezone.now() - datetime.timedelta(days=1)
    runs = ExecutionFactory.create_batch(count, **fields)
    for offset, run in enumerate(runs):
        Execution.objects.filter(id=run.id).update(created_at=start + datetime.timedelta(seconds=offset))
    return [str(run.id) for run in runs]


def test_history_pages_through_every_run_with_a_cursor(member, org):
    from executions.views import HISTORY_PAGE_SIZE

    ids = make_runs(HISTORY_PAGE_SIZE * 2 + 5, organization=org, executed_by=member)
    newest_first = ids[::-1]
    client = client_as(member)
    seen, url, pages = [], "/executions/", 0
    while url:
        response = client.get(url)
        seen += history_ids(response)
        pages += 1
        match = re.search(r'href="([^"]+)" rel="next"', response.content.decode())
        url = "/executions/" + match.group(1).replace("&amp;", "&") if match else None
    assert pages == 3 and seen == newest_first  # no cap, no duplicates, newest first
    # "Newer" from the last page goes back one page
    second = re.search(r"(\?after=[^\"]+)", client.get("/executions/").content.decode()).group(1)
    last = client.get("/executions/" + second.replace("&amp;", "&"))
    newer = re.search(r'href="([^"]+)" rel="prev"', last.content.decode()).group(1).replace("&amp;", "&")
    assert history_ids(client.get("/executions/" + newer)) == newest_first[:HISTORY_PAGE_SIZE]
    assert client.get("/executions/?after=garbage").status_code == 200


def test_history_query_count_is_fixed(member, admin_user, org, django_assert_max_num_queries):
    from forms_app.tests.factories import FormFactory

    form = FormFactory(organization=org, name="Onboard", access_level="authenticated")
    make_runs(30, organization=org, executed_by=member, form=form, trigger="form")
    for user, budget in ((member, 7), (admin_user, 7)):
        client = client_as(user)
        with django_assert_max_num_queries(budget):
            assert client.get("/executions/", {"q": "onb", "status": "Success"}).status_code == 200


def test_history_filters(member, admin_user, org, other_org, colleague):
    import datetime

    from django.utils import timezone

    from executions.models import Execution
    from forms_app.tests.factories import FormFactory

    form = FormFactory(organization=org, name="Reset a password", access_level="authenticated")
    by_form = ExecutionFactory(organization=org, executed_by=member, form=form, trigger="form", workflow_name="reset")
    failed = ExecutionFactory(organization=org, executed_by=member, status="CompletedWithErrors", workflow_name="sync")
    old = ExecutionFactory(organization=org, executed_by=member, trigger="schedule", workflow_name="nightly")
    Execution.objects.filter(id=old.id).update(created_at=timezone.now() - datetime.timedelta(days=40))
    theirs = ExecutionFactory(organization=other_org, workflow_name="sync")
    client = client_as(member)

    def ids(**query):
        return set(history_ids(client.get("/executions/", query)))

    assert ids(form=str(form.id)) == {str(by_form.id)}
    assert ids(q="PASSWORD") == {str(by_form.id)}  # the form's name
    assert ids(q="nightl") == {str(old.id)}  # the workflow's name
    assert ids(status="CompletedWithErrors") == {str(failed.id)}
    assert ids(trigger="schedule") == {str(old.id)}
    assert ids(workflow="sync") == {str(failed.id)}
    recent = (timezone.now() - datetime.timedelta(days=2)).date().isoformat()
    assert str(old.id) not in ids(since=recent) and ids(until=recent) == {str(old.id)}
    assert ids(form="not-a-uuid") == set()
    # organization and user filters are for admins; an ORG user's are ignored (never another org's runs)
    assert str(theirs.id) not in ids(organization=str(other_org.id))
    admin = client_as(admin_user)
    assert set(history_ids(admin.get("/executions/", {"organization": str(other_org.id)}))) == {str(theirs.id)}
    assert str(by_form.id) in set(history_ids(admin.get("/executions/", {"user": "member@"})))
    assert str(theirs.id) not in set(history_ids(admin.get("/executions/", {"user": "member@"})))
    html = client.get("/executions/").content.decode()
    assert "Completed with errors" in html and 'id="filter-organization"' not in html
    assert "Reset a password" in html  # the form's name where a form started the run
    for control in ("filter-q", "filter-form", "filter-workflow", "filter-status", "filter-trigger", "filter-since"):
        assert f'<label for="{control}">' in html
    assert 'id="filter-organization"' in admin.get("/executions/").content.decode()


def test_history_shows_durations_and_local_times(member, org):
    ExecutionFactory(organization=org, executed_by=member, duration_ms=72_000)
    html = client_as(member).get("/executions/").content.decode()
    assert "1 min 12 s" in html
    assert re.search(r'<time datetime="[0-9T:.\-]+Z" title="[0-9\- :]+ UTC" data-local>', html)
    assert "bifrost_site/site.js" in html and "executions/history.js" in html


# --- the run page: Cancel, Rerun, Run again, downloads -----------------------------------------------


def test_cancel_button_for_own_pending_or_running_runs(member, colleague, admin_user, org):
    from executions.models import Execution

    mine = ExecutionFactory(organization=org, executed_by=member, status="Pending", completed_at=None)
    html = client_as(member).get(f"/executions/{mine.id}/").content.decode()
    assert f'action="/executions/{mine.id}/cancel/"' in html and "rerun-form" not in html
    response = client_as(member).post(f"/executions/{mine.id}/cancel/")
    assert response.status_code == 302 and response["Location"] == f"/executions/{mine.id}/"
    assert Execution.objects.get(id=mine.id).status == "Cancelled"
    # finished: no button, and a late POST says why
    html = client_as(member).get(f"/executions/{mine.id}/", follow=True).content.decode()
    assert "cancel-form" not in html
    html = client_as(member).post(f"/executions/{mine.id}/cancel/", follow=True).content.decode()
    assert "already finished" in html
    # someone else's run is not there at all; admins may cancel any run in scope
    theirs = ExecutionFactory(organization=org, executed_by=colleague, status="Pending", completed_at=None)
    assert client_as(member).post(f"/executions/{theirs.id}/cancel/").status_code == 404
    assert client_as(admin_user).post(f"/executions/{theirs.id}/cancel/").status_code == 302
    assert Execution.objects.get(id=theirs.id).status == "Cancelled"
    assert client_as(member).get(f"/executions/{mine.id}/cancel/").status_code == 405


def test_cancel_needs_the_csrf_token(member, org):
    mine = ExecutionFactory(organization=org, executed_by=member, status="Pending", completed_at=None)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(f"/executions/{mine.id}/cancel/").status_code == 403


def test_rerun_is_for_admins_and_opens_the_new_run(member, admin_user, org):
    from executions.models import Execution
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(name="hello_world", parameters=[{"name": "name", "type": "string"}])
    run = ExecutionFactory(organization=org, executed_by=member, parameters={"name": "Ada"})
    assert client_as(member).post(f"/executions/{run.id}/rerun/").status_code == 403
    html = client_as(admin_user).get(f"/executions/{run.id}/").content.decode()
    assert f'action="/executions/{run.id}/rerun/"' in html
    response = client_as(admin_user).post(f"/executions/{run.id}/rerun/")
    again = Execution.objects.get(rerun_of=run)
    assert response["Location"] == f"/executions/{again.id}/"
    assert again.parameters == {"name": "Ada"} and again.trigger == "rerun" and again.organization == org
    gone = ExecutionFactory(organization=org, executed_by=member, workflow_name="deleted_workflow")
    html = client_as(admin_user).post(f"/executions/{gone.id}/rerun/", follow=True).content.decode()
    assert "could not be started again" in html and "deleted_workflow" in html


def test_run_again_links_back_to_the_prefilled_form(member, org):
    from accounts.tests.factories import RoleFactory, UserRoleFactory
    from forms_app.tests.factories import FormFactory, FormRoleFactory

    form = FormFactory(organization=org)
    role = RoleFactory(organization=org)
    FormRoleFactory(form=form, role=role)
    UserRoleFactory(role=role, user=member)
    run = ExecutionFactory(organization=org, executed_by=member, form=form, trigger="form")
    html = client_as(member).get(f"/executions/{run.id}/").content.decode()
    assert f'href="/forms/{form.id}/?rerun={run.id}"' in html
    plain = ExecutionFactory(organization=org, executed_by=member)
    assert "run-again" not in client_as(member).get(f"/executions/{plain.id}/").content.decode()


def test_user_errors_show_no_class_name(member, admin_user, org):
    run = ExecutionFactory(
        organization=org, executed_by=member, status="Failed", error_type="UserError", error_message="No such mailbox."
    )
    for user in (member, admin_user):
        html = client_as(user).get(f"/executions/{run.id}/").content.decode()
        assert "No such mailbox." in html and "UserError" not in html


@pytest.fixture
def logged_run(member, org):
    from executions.tests.factories import ExecutionLogFactory

    run = ExecutionFactory(organization=org, executed_by=member, workflow_name="onboard_user")
    for sequence, level in enumerate(["info", "debug", "warning", "traceback", "error"], start=1):
        ExecutionLogFactory(execution=run, sequence=sequence, level=level, message=f"{level} says hi")
    return run


def test_log_downloads_follow_the_page_visibility(logged_run, member, admin_user, colleague):
    text = b"".join(client_as(member).get(f"/executions/{logged_run.id}/log.txt").streaming_content).decode()
    assert [line.split()[1] for line in text.splitlines()] == ["INFO", "WARNING", "ERROR"]
    assert "debug says hi" not in text and "traceback says hi" not in text
    response = client_as(member).get(f"/executions/{logged_run.id}/log.ndjson")
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert 'filename="onboard_user-' in response["Content-Disposition"]
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [(r["line"], r["level"]) for r in rows] == [(1, "info"), (2, "warning"), (3, "error")]  # no gaps
    admin_text = b"".join(client_as(admin_user).get(f"/executions/{logged_run.id}/log.txt").streaming_content)
    assert admin_text.decode().count("\n") == 5 and b"traceback says hi" in admin_text
    assert client_as(colleague).get(f"/executions/{logged_run.id}/log.txt").status_code == 404
    assert Client().get(f"/executions/{logged_run.id}/log.ndjson").status_code == 302


def test_log_tools_are_labelled(logged_run, member):
    html = client_as(member).get(f"/executions/{logged_run.id}/").content.decode()
    assert '<label for="log-search">' in html and '<label for="log-level">' in html
    assert (
        f'href="/executions/{logged_run.id}/log.txt"' in html
        and f'href="/executions/{logged_run.id}/log.ndjson"' in html
    )
    assert 'value="debug"' not in html  # no DEBUG level for users


def test_waiting_and_deferred_runs_say_why_they_have_not_started(member, org):
    import datetime

    from django.utils import timezone

    waiting = ExecutionFactory(
        organization=org, executed_by=member, status="Pending", waiting_reason="organization_concurrency"
    )
    html = client_as(member).get(f"/executions/{waiting.id}/").content.decode()
    assert "the organization is at its limit of concurrent runs" in html
    later = timezone.now() + datetime.timedelta(hours=2)
    deferred = ExecutionFactory(organization=org, executed_by=member, status="Scheduled", scheduled_for=later)
    html = client_as(member).get(f"/executions/{deferred.id}/").content.decode()
    assert "<dt>Starts</dt>" in html and later.strftime("%Y-%m-%d %H:%M") in html
    assert f'action="/executions/{deferred.id}/cancel/"' in html
