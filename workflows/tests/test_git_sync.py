"""Workspace git sync against local repositories on disk (a bare repo as the remote); never the network."""

import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from secrets_app.models import Secret
from workflows.models import JobStatus, JobType, WorkspaceGitSettings, WorkspaceJob
from workflows.services import git_sync

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "t@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


class Remote:
    """A bare repository plus a working clone the test commits from."""

    def __init__(self, root):
        self.bare = root / "remote.git"
        self.author = root / "author"
        git(root, "init", "--quiet", "--bare", "-b", "main", str(self.bare))
        git(root, "clone", "--quiet", str(self.bare), str(self.author))
        git(self.author, "checkout", "--quiet", "-B", "main")

    def commit(self, files: dict, message="change") -> str:
        for name, content in files.items():
            path = self.author / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git(self.author, "add", "-A")
        git(self.author, "commit", "--quiet", "-m", message)
        git(self.author, "push", "--quiet", "origin", "main")
        return git(self.author, "rev-parse", "HEAD").strip()


@pytest.fixture
def workspace(tmp_path, settings):
    settings.WORKSPACE_PATH = tmp_path / "workspace"
    return settings.WORKSPACE_PATH


@pytest.fixture
def remote(tmp_path):
    return Remote(tmp_path)


def configure(remote, **extra):
    return git_sync.git_settings_update(repo_url=str(remote.bare), branch="main", **extra)


def sync() -> WorkspaceJob:
    job = WorkspaceJob.objects.create(job_type=JobType.GIT_SYNC)
    return git_sync.git_sync_run(job_id=job.id)


def output(job) -> str:
    return "\n".join(job.logs.order_by("sequence").values_list("message", flat=True))


def test_first_sync_clones_and_second_commit_fast_forwards(db, workspace, remote):
    first = remote.commit({"hello.py": "X = 1\n", "README.md": "hi\n"})
    configure(remote)
    (workspace / ".packages").mkdir(parents=True)  # installed packages never block a clone
    job = sync()
    assert job.status == JobStatus.SUCCESS, output(job)
    assert job.result["commit"] == first
    assert (workspace / "hello.py").read_text() == "X = 1\n"
    assert "discovery" in job.result
    sequences = list(job.logs.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))

    second = remote.commit({"hello.py": "X = 2\n", "more.py": "Y = 1\n"})
    job = sync()
    assert job.status == JobStatus.SUCCESS, output(job)
    assert job.result == {**job.result, "commit": second, "previous_commit": first, "changed_files": 2}
    assert (workspace / "hello.py").read_text() == "X = 2\n"
    row = WorkspaceGitSettings.objects.get()
    assert row.last_commit == second and row.last_synced_at is not None

    job = sync()
    assert job.status == JobStatus.SUCCESS
    assert "already up to date" in output(job)


def test_local_changes_that_would_be_overwritten_are_refused(db, workspace, remote):
    remote.commit({"hello.py": "X = 1\n", "other.py": "Z = 1\n"})
    configure(remote)
    assert sync().status == JobStatus.SUCCESS
    (workspace / "hello.py").write_text("X = 'edited on the server'\n")
    (workspace / "notes.txt").write_text("untouched by the update\n")
    remote.commit({"hello.py": "X = 2\n"})
    job = sync()
    assert job.status == JobStatus.FAILED
    assert job.result["conflicts"] == ["hello.py"]
    assert "hello.py" in job.error_message
    assert (workspace / "hello.py").read_text() == "X = 'edited on the server'\n"  # nothing overwritten


def test_untracked_files_in_the_way_of_the_first_checkout_are_listed(db, workspace, remote):
    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    workspace.mkdir(parents=True)
    (workspace / "hello.py").write_text("mine\n")
    job = sync()
    assert job.status == JobStatus.FAILED
    assert job.result["conflicts"] == ["hello.py"]
    assert (workspace / "hello.py").read_text() == "mine\n"


def test_diverged_workspace_is_not_overwritten(db, workspace, remote):
    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    sync()
    (workspace / "local.py").write_text("L = 1\n")
    git(workspace, "add", "local.py")
    git(workspace, "commit", "--quiet", "-m", "local")
    remote.commit({"hello.py": "X = 2\n"})
    job = sync()
    assert job.status == JobStatus.FAILED
    assert "fast-forward" in job.error_message


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/repo.git",
        "ftp://example.com/r",
        "-uhack",
        "ext::sh -c touch% /tmp/x",
        "example.com/r",
        "https://user:token@example.com/r.git",
        "https:///nohost",
    ],
)
def test_bad_urls_are_rejected(db, url):
    with pytest.raises(Exception) as excinfo:
        git_sync.repo_url_validate(url)
    assert "repo_url" in excinfo.value.detail


@pytest.mark.parametrize(
    "url",
    ["https://github.com/acme/flows.git", "ssh://git@example.com:2222/acme/flows.git", "git@github.com:acme/f.git"],
)
def test_good_urls_are_accepted(url):
    assert git_sync.repo_url_validate(url) == url


def test_local_paths_only_outside_production(settings):
    settings.ENVIRONMENT = "production"
    with pytest.raises(Exception, match="development and testing"):
        git_sync.repo_url_validate("file:///srv/repo.git")
    settings.ENVIRONMENT = "testing"
    assert git_sync.repo_url_validate("/srv/repo.git") == "/srv/repo.git"


def test_missing_remote_fails_the_job_with_gits_message(db, workspace, tmp_path):
    git_sync.git_settings_update(repo_url=str(tmp_path / "nowhere.git"), branch="main")
    job = sync()
    assert job.status == JobStatus.FAILED
    assert "fetch failed" in job.error_message


def test_token_secret_is_masked_and_never_in_argv(db, workspace, tmp_path):
    token = "ghp_SuperSecretToken1234567890"
    Secret.objects.create(name="git_token", value=token)
    # A remote path holding the token makes git print it back: the job must show *** instead.
    bad = tmp_path / token / "repo.git"
    git_sync.git_settings_update(repo_url=str(bad), branch="main", credential_secret="git_token")
    job = sync()
    assert job.status == JobStatus.FAILED
    text = output(job) + job.error_message
    assert token not in text
    assert "***" in text


def test_askpass_helper_answers_from_the_environment(db):
    Secret.objects.create(name="git_token", value="alice:tok-123456")
    with git_sync.git_credentials("git_token") as creds:
        askpass = creds.env["GIT_ASKPASS"]
        assert "tok-123456" not in Path(askpass).read_text()
        run = lambda prompt: subprocess.run([askpass, prompt], env=creds.env, capture_output=True, text=True).stdout  # noqa: E731
        assert run("Username for 'https://example.com': ") == "alice\n"
        assert run("Password for 'https://alice@example.com': ") == "tok-123456\n"
        assert creds.env["GIT_TERMINAL_PROMPT"] == "0"
        assert "SECRET_KEY" not in creds.env and "DATABASE_URL" not in creds.env
    assert not os.path.exists(askpass)  # removed with the temporary directory


def test_ssh_key_secret_goes_to_a_private_temp_file(db):
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretkeymaterial\n-----END OPENSSH PRIVATE KEY-----"
    Secret.objects.create(name="deploy_key", value=key)
    with git_sync.git_credentials("deploy_key") as creds:
        command = creds.env["GIT_SSH_COMMAND"]
        key_path = command.split("-i ", 1)[1].split()[0]
        assert oct(os.stat(key_path).st_mode & 0o777) == "0o600"
        assert "AAAAsecretkeymaterial" in creds.masks
    assert not os.path.exists(key_path)


def test_periodic_sync_runs_only_when_due(db, workspace, remote):
    from django.utils import timezone

    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    assert git_sync.git_sync_if_due() is None  # no interval configured
    configure(remote, sync_interval_minutes=30)
    job = git_sync.git_sync_if_due()
    assert job.status == JobStatus.SUCCESS
    assert git_sync.git_sync_if_due() is None  # just synced
    later = timezone.now() + timezone.timedelta(minutes=31)
    assert git_sync.git_sync_if_due(now=later).status == JobStatus.SUCCESS


def test_git_sync_command(db, workspace, remote, capsys):
    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    call_command("git_sync")
    assert "synced to" in capsys.readouterr().out
    assert (workspace / "hello.py").exists()
    WorkspaceGitSettings.objects.all().delete()
    with pytest.raises(CommandError, match="No repository"):
        call_command("git_sync")


def test_redelivered_job_does_nothing(db, workspace, remote):
    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    job = sync()
    assert git_sync.git_sync_run(job_id=job.id) is None


# --- API ---


def test_git_settings_api(db, admin_client, remote):
    assert admin_client.get("/api/workspace/git").json()["repo_url"] == ""
    Secret.objects.create(name="git_token", value="x")
    payload = {"repo_url": str(remote.bare), "branch": "main", "credential_secret": "git_token"}
    response = admin_client.put("/api/workspace/git", payload, format="json")
    assert response.status_code == 200, response.content
    assert admin_client.get("/api/workspace/git").json()["credential_secret"] == "git_token"
    bad = admin_client.put("/api/workspace/git", {**payload, "credential_secret": "missing"}, format="json")
    assert bad.status_code == 400 and "credential_secret" in bad.json()["details"]
    bad = admin_client.put("/api/workspace/git", {**payload, "branch": "a..b"}, format="json")
    assert bad.status_code == 400 and "branch" in bad.json()["details"]
    bad = admin_client.put("/api/workspace/git", {**payload, "repo_url": "ftp://x/y"}, format="json")
    assert bad.status_code == 400 and "repo_url" in bad.json()["details"]


def test_sync_api_queues_a_job_and_the_job_api_shows_it(
    db, admin_client, workspace, remote, django_capture_on_commit_callbacks
):
    remote.commit({"hello.py": "X = 1\n"})
    configure(remote)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post("/api/workspace/git/sync")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # published to the (test run's) workspace queue after commit
    job_id = response.json()["job_id"]
    git_sync.git_sync_run(job_id=job_id)  # what the worker does
    body = admin_client.get(f"/api/workspace/jobs/{job_id}").json()
    assert body["status"] == "success"
    assert body["job_type"] == "git_sync"
    assert body["logs"][0]["sequence"] == 1
    assert admin_client.get("/api/workspace/jobs/00000000-0000-0000-0000-000000000000").status_code == 404


def test_sync_api_needs_a_repository(db, admin_client):
    response = admin_client.post("/api/workspace/git/sync")
    assert response.status_code == 400
    assert "repo_url" in response.json()["details"]


def test_workspace_api_is_admin_only(db, member_client, api_client):
    for method, path in [("get", "/api/workspace/git"), ("post", "/api/workspace/git/sync"), ("get", "/api/packages")]:
        assert getattr(api_client, method)(path).status_code == 401
        assert getattr(member_client, method)(path).status_code == 403


# Sync → discovery → /api/workflows → execute on a real worker: test_workspace_e2e.py.
