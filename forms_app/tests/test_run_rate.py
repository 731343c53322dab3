"""Runs started per signed-in user are throttled (issue 18 item 10): form submits, startups and
executes answer 429 past `RUN_RATE_PER_USER`, with a Retry-After header and a message saying when to
try again. The rate is per day here, so a slow machine cannot spread the calls over two windows."""

import pytest

from accounts.tests.factories import PlatformAdminFactory, UserRoleFactory
from conftest import client_for
from forms_app.tests.test_api import registry  # noqa: F401  (fixture)
from forms_app.tests.test_use import holder, onboard, submit  # noqa: F401  (fixtures)
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def _assert_says_when_to_retry(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"] == "throttled"
    wait = int(response["Retry-After"])
    assert 0 < wait <= 86400
    assert body["details"]["retry_after_seconds"] > 0
    assert "available in" in body["message"]


def test_form_submits_are_throttled_per_user(engine, onboard, holder, org, settings):  # noqa: F811
    settings.RUN_RATE_PER_USER = "2/day"
    form, _ = onboard
    client = client_for(holder)
    data = {"email": "a@b.test", "licence": "lic_a"}
    codes = [submit(client, form, data).status_code for _ in range(2)]
    assert codes == [200, 200]
    _assert_says_when_to_retry(submit(client, form, data))
    assert len(engine.calls) == 2  # the refused submit started nothing

    # another user of the same organization has a budget of their own
    other = UserRoleFactory(role=onboard[1]).user
    assert submit(client_for(other), form, data).status_code == 200


def test_executes_are_throttled_per_user(admin_user, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.RUN_RATE_PER_USER = "2/day"
    published = []
    monkeypatch.setattr("executions.services.publish_run", lambda execution_id, **kw: published.append(kw))
    WorkflowFactory(name="later", execution_mode="async")
    client = client_for(admin_user)
    codes = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            codes.append(client.post("/api/workflows/later/execute", {"parameters": {}}, format="json").status_code)
    assert codes == [202, 202]
    _assert_says_when_to_retry(client.post("/api/workflows/later/execute", {"parameters": {}}, format="json"))
    assert len(published) == 2
    other_admin = PlatformAdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(other_admin).post("/api/workflows/later/execute", {}, format="json").status_code == 202
