"""Git sync and package installs end to end: the jobs run on a real prefork worker whose workspace
is a git checkout of a local bare repository; the synced workflows are discovered, listed by the
API and executed by that worker, including one importing a package installed from a local wheel."""

import pytest

from bifrost_site.testing.engine import start_prefork_worker, wait_for
from conftest import client_for
from workflows.models import WorkspaceJob
from workflows.services import git_sync
from workflows.tests.test_git_sync import Remote
from workflows.tests.test_packages import build_wheel

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HELLO = """
from bifrost import workflow


@workflow(name="git_hello", description="{description}", execution_mode="sync", timeout_seconds=30)
def git_hello():
    return "hello {description}"
"""
SECOND = """
from bifrost import workflow


@workflow(name="git_second", description="Added later", execution_mode="sync", timeout_seconds=30)
def git_second():
    return 2
"""
USES_PACKAGE = """
import bifrost_e2e_pkg
from bifrost import workflow


@workflow(name="uses_package", description="Imports an installed package", execution_mode="sync", timeout_seconds=30)
def uses_package():
    return {"version": bifrost_e2e_pkg.__version__, "value": bifrost_e2e_pkg.VALUE}
"""


@pytest.fixture(scope="module")
def git_workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("git_workspace") / "workspace"


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("wheels")
    build_wheel(directory, "bifrost_e2e_pkg", "1.0.0", body="VALUE = 41\n")
    return directory


@pytest.fixture(scope="module")
def git_worker(git_workspace, wheel_dir, tmp_path_factory, session_workers, django_db_blocker):
    """This module's own worker, on the git workspace, installing packages from `wheel_dir` only.

    The session worker is stopped first: jobs must not land on a worker with another workspace."""
    session_workers.stop()
    env = {"PACKAGE_NO_INDEX": "true", "PACKAGE_FIND_LINKS": str(wheel_dir)}
    with start_prefork_worker(git_workspace, tmp_path_factory.mktemp("git_worker"), django_db_blocker, env=env) as w:
        yield w


@pytest.fixture
def prefork_worker(git_worker):
    return git_worker


@pytest.fixture
def workspace(git_workspace, wheel_dir, settings):
    settings.WORKSPACE_PATH = git_workspace
    settings.PACKAGE_NO_INDEX = True
    settings.PACKAGE_FIND_LINKS = [str(wheel_dir)]
    return git_workspace


def finished_job(client, job_id, timeout=120):
    def done():
        body = client.get(f"/api/workspace/jobs/{job_id}").json()
        return body if body["status"] in ("success", "failed") else None

    body = wait_for(done, timeout=timeout, interval=0.2, message=f"workspace job {job_id}")
    assert body["status"] == "success", body
    return body


def workflows_by_name(client):
    return {w["name"]: w for w in client.get("/api/workflows?limit=200").json()["results"]}


def test_sync_then_package_install_then_run_on_the_worker(prefork_worker, workspace, admin_user, tmp_path):
    client = client_for(admin_user)
    remote = Remote(tmp_path)
    remote.commit({"hello.py": HELLO.format(description="v1")}, message="first workflow")
    git_sync.git_settings_update(repo_url=str(remote.bare), branch="main")

    # 1. sync: the job (on the worker) clones, discovers, and the API lists the workflow
    job = client.post("/api/workspace/git/sync")
    assert job.status_code == 202, job.content
    finished_job(client, job.json()["job_id"])
    listed = workflows_by_name(client)
    assert listed["git_hello"]["description"] == "v1"
    assert "git_second" not in listed
    run = client.post("/api/workflows/git_hello/execute", {}, format="json")
    assert (run.status_code, run.json()["result"]) == (200, "hello v1"), run.json()

    # 2. a later commit pulled by a second sync: description changes, a new workflow appears
    remote.commit({"hello.py": HELLO.format(description="v2"), "second.py": SECOND}, message="second")
    finished_job(client, client.post("/api/workspace/git/sync").json()["job_id"])
    listed = workflows_by_name(client)
    assert listed["git_hello"]["description"] == "v2"
    assert listed["git_second"]["is_available"] is True
    assert client.post("/api/workflows/git_hello/execute", {}, format="json").json()["result"] == "hello v2"
    assert client.post("/api/workflows/git_second/execute", {}, format="json").json()["result"] == 2

    # 3. install a package (from the local wheel directory), then sync a workflow importing it
    install = client.post("/api/packages/install", {"package": "bifrost_e2e_pkg", "version": "1.0.0"}, format="json")
    assert install.status_code == 202, install.content
    finished_job(client, install.json()["job_id"])
    names = {p["name"].replace("-", "_").lower() for p in client.get("/api/packages").json()["results"]}
    assert "bifrost_e2e_pkg" in names
    remote.commit({"uses_package.py": USES_PACKAGE}, message="use the package")
    finished_job(client, client.post("/api/workspace/git/sync").json()["job_id"])
    listed = workflows_by_name(client)
    assert listed["uses_package"]["is_available"] is True, listed["uses_package"]
    run = client.post("/api/workflows/uses_package/execute", {}, format="json")
    assert run.status_code == 200, run.json()
    assert run.json()["status"] == "Success", run.json()
    assert run.json()["result"] == {"version": "1.0.0", "value": 41}
    # both children of the pool can import it (each run lands on whichever child is free)
    results = [client.post("/api/workflows/uses_package/execute", {}, format="json").json() for _ in range(4)]
    assert all(r["status"] == "Success" for r in results), results
    assert WorkspaceJob.objects.filter(status="success").count() == 4
