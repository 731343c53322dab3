"""Runs pinned to their code (DESIGN §20): versions recorded by discovery, by git sync and by the worker."""

import hashlib
from pathlib import Path

import pytest

from conftest import client_for
from executions.engine.runner import execute
from executions.models import Execution, ExecutionStatus
from executions.tests.factories import ExecutionFactory
from workflows.models import Workflow, WorkflowVersion
from workflows.services import discovery_run

SOURCE = """
from bifrost import workflow

@workflow(name="pinned", execution_mode="async", time_saved_minutes=7)
def pinned(context):
    total = 0
    for i in range({loops}):
        total += i * i
    return {{"edition": "{edition}", "total": total}}
"""


@pytest.fixture
def workspace(tmp_path, settings):
    settings.WORKSPACE_PATH = tmp_path
    return tmp_path


def write(workspace: Path, edition: str, loops: int = 10) -> str:
    text = SOURCE.format(edition=edition, loops=loops)
    (workspace / "pinned.py").write_text(text)
    return text


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run(org, user) -> Execution:
    execution = ExecutionFactory(
        workflow_name="pinned", organization=org, executed_by=user, status=ExecutionStatus.PENDING
    )
    assert execute(execution.id, task_id=f"t-{execution.id}")["status"] == ExecutionStatus.SUCCESS
    execution.refresh_from_db()
    return execution


@pytest.mark.django_db(transaction=True)
def test_each_run_records_the_source_it_ran_across_file_edits(workspace, org, admin_user, member):
    first_text = write(workspace, "first")
    report = discovery_run(reason="test")
    assert report["new_versions"] == 1
    workflow = Workflow.objects.get(name="pinned")
    assert workflow.time_saved_minutes == 7 and workflow.time_saved_per_run == 7
    first = WorkflowVersion.objects.get(workflow=workflow)
    assert (first.source_hash, first.source, first.git_commit) == (sha(first_text), first_text, "")
    assert discovery_run(reason="test")["new_versions"] == 0  # the same source is stored once

    run_one = run(org, member)
    assert run_one.workflow_version_id == first.id
    assert run_one.result["edition"] == "first"
    assert run_one.cpu_ms is not None and run_one.cpu_ms >= 0

    # edited after discovery: the worker imports the new file and stores what it actually ran
    second_text = write(workspace, "second", loops=2000)
    run_two = run(org, member)
    assert run_two.result["edition"] == "second"
    second = run_two.workflow_version
    assert (second.source_hash, second.source) == (sha(second_text), second_text)
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 2
    assert discovery_run(reason="test")["new_versions"] == 0

    admin = client_for(admin_user)
    response = admin.get("/api/workflows/pinned/versions")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [v["source_hash"] for v in body["results"]] == [sha(second_text), sha(first_text)]
    assert [v["is_current"] for v in body["results"]] == [True, False]
    assert body["results"][1]["source"] == first_text

    source = admin.get(f"/api/executions/{run_one.id}/source").json()
    assert source["source"] == first_text and source["code_changed"] is True
    assert source["version"]["source_hash"] == sha(first_text)
    assert source["current_source_hash"] == sha(second_text)
    assert admin.get(f"/api/executions/{run_two.id}/source").json()["code_changed"] is False
    # the member who ran it may see the run, but not its code
    assert client_for(member).get(f"/api/executions/{run_one.id}").status_code == 200
    assert client_for(member).get(f"/api/executions/{run_one.id}/source").status_code == 403

    # the execution page: admins see which code ran and whether it differs from today's; members do not
    from django.test import Client

    page = Client()
    page.force_login(admin_user)
    html = page.get(f"/executions/{run_one.id}/").content.decode()
    assert f'href="/api/executions/{run_one.id}/source"' in html and "differs from today's code" in html
    html = page.get(f"/executions/{run_two.id}/").content.decode()
    assert "same as today's code" in html
    page.force_login(member)
    assert 'id="code-version"' not in page.get(f"/executions/{run_one.id}/").content.decode()

    rerun = admin.post(f"/api/executions/{run_one.id}/rerun")
    assert rerun.status_code == 202, rerun.content
    assert rerun.json()["code_changed"] is True
    rerun = admin.post(f"/api/executions/{run_two.id}/rerun")
    assert rerun.json()["code_changed"] is False


@pytest.mark.django_db
def test_a_run_without_a_recorded_version_says_so(admin_user, org):
    execution = ExecutionFactory(workflow_name="never_ran", organization=org)
    body = client_for(admin_user).get(f"/api/executions/{execution.id}/source").json()
    assert body == {
        "execution_id": str(execution.id),
        "workflow_name": "never_ran",
        "version": None,
        "source": None,
        "current_source_hash": None,
        "code_changed": None,
    }


@pytest.mark.django_db
def test_a_git_sync_records_the_commit_of_each_new_source(tmp_path, settings):
    from workflows.tests.test_git_sync import Remote, configure, sync

    settings.WORKSPACE_PATH = tmp_path / "workspace"
    remote = Remote(tmp_path)
    first = remote.commit({"pinned.py": SOURCE.format(edition="first", loops=1)})
    configure(remote)
    assert sync().status == "success"
    second = remote.commit({"pinned.py": SOURCE.format(edition="second", loops=1), "README.md": "x\n"})
    assert sync().status == "success"
    remote.commit({"README.md": "only the readme\n"})
    assert sync().status == "success"
    versions = WorkflowVersion.objects.filter(workflow__name="pinned").order_by("created_at")
    assert [v.git_commit for v in versions] == [first, second]
    assert versions[1].source == SOURCE.format(edition="second", loops=1)


@pytest.mark.django_db
def test_stored_secret_values_never_appear_in_the_source_shown(admin_user, org):
    from secrets_app.tests.factories import SecretFactory
    from workflows.tests.factories import WorkflowFactory

    SecretFactory(name="api_token", value="tok-Sup3rSecret-998877", organization=org)
    workflow = WorkflowFactory(name="leaky")
    text = 'TOKEN = "tok-Sup3rSecret-998877"  # pasted by mistake\n'
    version = WorkflowVersion.objects.create(workflow=workflow, source_hash=sha(text), source=text)
    execution = ExecutionFactory(workflow_name="leaky", organization=org, workflow_version=version)
    admin = client_for(admin_user)
    for body in (
        admin.get(f"/api/executions/{execution.id}/source").content,
        admin.get("/api/workflows/leaky/versions").content,
    ):
        assert b"tok-Sup3rSecret-998877" not in body and b"TOKEN = \\\"***\\\"" in body
