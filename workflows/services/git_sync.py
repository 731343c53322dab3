"""Workspace git sync: follow one remote branch in WORKSPACE_PATH (DESIGN §6 workspace).

The git CLI runs with an allow-listed environment: no prompts, no system config, only the
transports Bifrost allows. Credentials never appear in argv or in logs: an HTTPS token reaches
git through a GIT_ASKPASS helper reading an environment variable, an SSH key through a 0600
temporary file named in GIT_SSH_COMMAND. Output lines are masked before they are stored.

A sync fetches the branch, refuses (listing the files) when local changes would be overwritten,
fast-forwards (never merges or rebases) and then runs discovery.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
import audit.services
from secrets_app.models import Secret
from workflows.models import JobStatus, JobType, WorkspaceGitSettings, WorkspaceJob
from workflows.services import jobs
from workflows.tasks import git_sync_task

SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s]+)$")
HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
PACKAGES_DIR = ".packages"
EXCLUDES = (f"/{PACKAGES_DIR}/", f"/{PACKAGES_DIR}-*/", "__pycache__/")


class GitError(Exception):
    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


# --- settings ---------------------------------------------------------------------------------


def local_repositories_allowed() -> bool:
    return settings.ENVIRONMENT in ("development", "testing")


def repo_url_validate(url: str) -> str:
    """Accept https://, ssh://, scp-like git@host:path and, outside production, file:// or a local path."""
    url = (url or "").strip()
    if not url:
        return ""
    if url.startswith("-") or any(ch.isspace() for ch in url) or "::" in url.split("/")[0]:
        raise exceptions.ValidationError({"repo_url": ["This is not a repository URL."]})
    lowered = url.lower()
    if lowered.startswith("https://") or lowered.startswith("ssh://"):
        rest = url.split("://", 1)[1]
        authority, _, path = rest.partition("/")
        host = authority.rsplit("@", 1)[-1]
        if "@" in authority and lowered.startswith("https://"):
            raise exceptions.ValidationError(
                {"repo_url": ["Put credentials in a secret (credential_secret), not in the URL."]}
            )
        if not HOST.match(host) or not path:
            raise exceptions.ValidationError({"repo_url": ["The URL needs a host and a repository path."]})
        return url
    if SCP_LIKE.match(url) and not url.startswith("/"):
        return url
    if lowered.startswith("file://") or url.startswith("/"):
        if not local_repositories_allowed():
            raise exceptions.ValidationError(
                {"repo_url": ["Local repositories (file:// or a path) are only allowed in development and testing."]}
            )
        return url
    raise exceptions.ValidationError({"repo_url": ["Use https://host/path, ssh://host/path or user@host:path."]})


def branch_validate(branch: str) -> str:
    branch = (branch or "").strip()
    if not branch or branch.startswith("-"):
        raise exceptions.ValidationError({"branch": ["A branch name is required."]})
    ok = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "check-ref-format", "--branch", branch],  # noqa: S607
        capture_output=True,
        env=_base_env(),
        check=False,
        timeout=10,
    )
    if ok.returncode != 0:
        raise exceptions.ValidationError({"branch": [f"{branch!r} is not a valid branch name."]})
    return branch


def git_settings_get() -> WorkspaceGitSettings:
    row = WorkspaceGitSettings.objects.order_by("created_at").first()
    return row or WorkspaceGitSettings(branch="main")


@transaction.atomic
def git_settings_update(
    *,
    repo_url: str,
    branch: str = "main",
    credential_secret: str = "",
    sync_interval_minutes: int | None = None,
    updated_by=None,
) -> WorkspaceGitSettings:
    repo_url = repo_url_validate(repo_url)
    branch = branch_validate(branch)
    if credential_secret and not Secret.objects.filter(organization__isnull=True, name=credential_secret).exists():
        raise exceptions.ValidationError({"credential_secret": [f"No GLOBAL secret named {credential_secret!r}."]})
    row = WorkspaceGitSettings.objects.select_for_update().order_by("created_at").first() or WorkspaceGitSettings()
    fields = ["repo_url", "branch", "credential_secret", "sync_interval_minutes"]
    before = audit.services.snapshot(row, fields) if row.pk and not row._state.adding else {}
    row.repo_url, row.branch, row.credential_secret = repo_url, branch, credential_secret
    row.sync_interval_minutes = sync_interval_minutes
    row.updated_by = updated_by
    row.save()
    audit.record(
        action="workspace_git.update",
        resource_type="workspace_git_settings",
        resource_id=row.id,
        changes=audit.services.diff(before, audit.services.snapshot(row, fields)),
    )
    return row


def git_sync_request(*, requested_by=None) -> WorkspaceJob:
    row = git_settings_get()
    if not row.repo_url:
        raise exceptions.ValidationError({"repo_url": ["Configure the repository first (PUT /api/workspace/git)."]})
    return jobs.workspace_job_request(
        job_type=JobType.GIT_SYNC,
        parameters={"repo_url": row.repo_url, "branch": row.branch},
        requested_by=requested_by,
        publish=lambda job_id: git_sync_task.apply_async(args=[job_id]),
    )


# --- running git ------------------------------------------------------------------------------

ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$BIFROST_GIT_USERNAME" ;;
  *) printf '%s\\n' "$BIFROST_GIT_PASSWORD" ;;
esac
"""


def _base_env() -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ALLOW_PROTOCOL": "https:ssh:file" if local_repositories_allowed() else "https:ssh",
        "GCM_INTERACTIVE": "never",
    }
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "GIT_SSL_CAINFO"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@dataclass
class GitCredentials:
    env: dict
    masks: list[str]


@contextlib.contextmanager
def git_credentials(secret_name: str):
    """Yield the environment for git with the named GLOBAL secret wired in (token or SSH key)."""
    env = _base_env()
    if not secret_name:
        env["GIT_ASKPASS"] = "/bin/false"  # never prompt; a private remote fails fast
        yield GitCredentials(env=env, masks=[])
        return
    secret = Secret.objects.filter(organization__isnull=True, name=secret_name).first()
    if secret is None or not isinstance(secret.value, str):
        raise GitError(f"The credential secret {secret_name!r} does not exist or cannot be decrypted.")
    value = secret.value.strip()
    with tempfile.TemporaryDirectory(prefix="bifrost-git-") as tmp:
        if value.startswith("-----BEGIN"):
            key_path = Path(tmp) / "id_key"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(value + "\n")
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {key_path} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
            )
            env["GIT_ASKPASS"] = "/bin/false"
            yield GitCredentials(env=env, masks=[value, *value.splitlines()[1:-1]])
            return
        username, sep, password = value.partition(":")
        if not sep or "\n" in value:
            username, password = "x-access-token", value
        askpass = Path(tmp) / "askpass.sh"
        askpass.write_text(ASKPASS_SCRIPT)
        askpass.chmod(stat.S_IRWXU)
        env.update({"GIT_ASKPASS": str(askpass), "BIFROST_GIT_USERNAME": username, "BIFROST_GIT_PASSWORD": password})
        yield GitCredentials(env=env, masks=[password, value])


class GitRunner:
    def __init__(self, cwd: Path, credentials: GitCredentials, recorder: jobs.JobRecorder):
        self.cwd = cwd
        self.credentials = credentials
        self.recorder = recorder
        self.timeout = settings.GIT_COMMAND_TIMEOUT_SECONDS

    def run(self, *args: str, quiet: bool = False, check: bool = True) -> tuple[int, str]:
        """Run `git <args>`; stream output to the job unless quiet; return (code, output)."""
        argv = ["git", *args]
        if not quiet:
            self.recorder.info("$ " + " ".join(argv))
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell; URLs validated, never credentials
            argv,
            cwd=self.cwd,
            env=self.credentials.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        timer = threading.Timer(self.timeout, proc.kill)
        timer.start()
        output = []
        try:
            for line in proc.stdout:
                output.append(line)
                if not quiet:
                    self.recorder.line(line)
            code = proc.wait()
        finally:
            timer.cancel()
        text = "".join(output)
        if check and code != 0:
            message = self.recorder.mask(text.strip().splitlines()[-1] if text.strip() else f"git exited {code}")
            raise GitError(f"git {args[0]} failed: {message}", details={"exit_code": code})
        return code, text


def _z_split(text: str) -> list[str]:
    return [item for item in text.split("\0") if item]


def _local_changes(git: GitRunner) -> set[str]:
    _, out = git.run("status", "--porcelain=v1", "-z", "--untracked-files=all", quiet=True)
    paths: set[str] = set()
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        paths.add(path)
        if "R" in status or "C" in status:  # the next entry is the rename source
            if i < len(entries) and entries[i]:
                paths.add(entries[i])
            i += 1
    return paths


def _ensure_repository(git: GitRunner, url: str) -> bool:
    """Initialise WORKSPACE_PATH as a repository following `url`; True when it is fresh (no commit yet)."""
    path = git.cwd
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git.run("init", "--quiet")
    exclude = path / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text() if exclude.exists() else ""
    missing = [line for line in EXCLUDES if line not in existing.splitlines()]
    if missing:
        exclude.write_text(
            existing + ("" if existing.endswith("\n") or not existing else "\n") + "\n".join(missing) + "\n"
        )
    code, _ = git.run("remote", "get-url", "origin", quiet=True, check=False)
    if code == 0:
        git.run("remote", "set-url", "origin", url, quiet=True)
    else:
        git.run("remote", "add", "origin", url, quiet=True)
    code, _ = git.run("rev-parse", "--verify", "--quiet", "HEAD", quiet=True, check=False)
    return code != 0


def _sync(git: GitRunner, url: str, branch: str) -> dict:
    fresh = _ensure_repository(git, url)
    remote_ref = f"refs/remotes/origin/{branch}"
    git.run("fetch", "--prune", "--no-tags", "origin", f"+refs/heads/{branch}:{remote_ref}")
    _, target = git.run("rev-parse", remote_ref, quiet=True)
    target = target.strip()
    local = _local_changes(git)

    if fresh:
        _, tree = git.run("ls-tree", "-r", "-z", "--name-only", remote_ref, quiet=True)
        conflicts = sorted(local & set(_z_split(tree)))
        if conflicts:
            raise GitError(
                "Files already in the workspace would be overwritten: " + ", ".join(conflicts),
                details={"conflicts": conflicts},
            )
        git.run("checkout", "--quiet", "-B", branch, "--track", f"origin/{branch}")
        return {"commit": target, "previous_commit": None, "changed_files": len(_z_split(tree))}

    _, head = git.run("rev-parse", "HEAD", quiet=True)
    head = head.strip()
    _, current = git.run("rev-parse", "--abbrev-ref", "HEAD", quiet=True)
    if current.strip() != branch:
        raise GitError(
            f"The workspace is on branch {current.strip()!r}, not {branch!r}; switch it by hand or change the setting.",
        )
    if head == target:
        git.recorder.info(f"already up to date at {target[:12]}")
        return {"commit": target, "previous_commit": head, "changed_files": 0}
    code, _ = git.run("merge-base", "--is-ancestor", "HEAD", remote_ref, quiet=True, check=False)
    if code != 0:
        raise GitError(
            f"The workspace has commits that are not on origin/{branch}; refusing to overwrite them "
            "(only fast-forward updates are applied)."
        )
    _, incoming = git.run("diff", "--name-only", "-z", "HEAD", remote_ref, quiet=True)
    incoming_files = set(_z_split(incoming))
    conflicts = sorted(local & incoming_files)
    if conflicts:
        raise GitError(
            "Local changes would be overwritten by the update: " + ", ".join(conflicts),
            details={"conflicts": conflicts},
        )
    git.run("merge", "--ff-only", "--quiet", remote_ref)
    return {"commit": target, "previous_commit": head, "changed_files": len(incoming_files)}


def git_sync_run(*, job_id) -> WorkspaceJob | None:
    """Process a pending git_sync job (the worker task and `manage.py git_sync` call this)."""
    job = jobs.job_begin(job_id)
    if job is None:
        return None
    recorder = jobs.JobRecorder(job)
    row = git_settings_get()
    url = job.parameters.get("repo_url") or row.repo_url
    branch = job.parameters.get("branch") or row.branch
    try:
        if not url:
            raise GitError("No repository is configured.")
        repo_url_validate(url)
        branch_validate(branch)
        with git_credentials(row.credential_secret) as credentials:
            for value in credentials.masks:
                recorder.add_mask(value)
            recorder.info(f"syncing {url} ({branch}) into {settings.WORKSPACE_PATH}")
            git = GitRunner(Path(settings.WORKSPACE_PATH), credentials, recorder)
            result = _sync(git, url, branch)
    except GitError as exc:
        message = recorder.mask(str(exc))
        recorder.line(message, stream="stderr")
        return jobs.job_finish(job, status=JobStatus.FAILED, result=exc.details, error=message)
    except exceptions.ValidationError as exc:
        message = f"Invalid settings: {exc.detail}"
        recorder.line(message, stream="stderr")
        return jobs.job_finish(job, status=JobStatus.FAILED, error=message)
    except Exception as exc:  # unexpected: keep the job honest, then let Celery log it
        message = recorder.mask(f"{type(exc).__name__}: {exc}")
        recorder.line(message, stream="stderr")
        jobs.job_finish(job, status=JobStatus.FAILED, error=message)
        raise

    if row.pk:
        WorkspaceGitSettings.objects.filter(pk=row.pk).update(
            last_synced_at=timezone.now(), last_commit=result["commit"]
        )
    recorder.info(f"workspace at {result['commit'][:12]} ({result['changed_files']} file(s) changed)")
    try:
        result["discovery"] = jobs.discovery_after(recorder, reason="git_sync")
    except Exception as exc:
        message = recorder.mask(f"synced, but discovery failed: {type(exc).__name__}: {exc}")
        recorder.line(message, stream="stderr")
        return jobs.job_finish(job, status=JobStatus.FAILED, result=result, error=message)
    return jobs.job_finish(job, status=JobStatus.SUCCESS, result=result)


def git_sync_if_due(*, now: dt.datetime | None = None) -> WorkspaceJob | None:
    """Beat calls this every minute: sync when `sync_interval_minutes` has passed since the last sync."""
    now = now or timezone.now()
    row = git_settings_get()
    if not row.pk or not row.repo_url or not row.sync_interval_minutes:
        return None
    interval = dt.timedelta(minutes=row.sync_interval_minutes)
    last_job = (
        WorkspaceJob.objects.filter(job_type=JobType.GIT_SYNC)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
    ).first()
    latest = max([t for t in (row.last_synced_at, last_job) if t is not None], default=None)
    if latest is not None and now - latest < interval:  # a failing remote is retried once per interval too
        return None
    if WorkspaceJob.objects.filter(
        job_type=JobType.GIT_SYNC, status__in=(JobStatus.PENDING, JobStatus.RUNNING)
    ).exists():
        return None
    job = WorkspaceJob.objects.create(
        job_type=JobType.GIT_SYNC, parameters={"repo_url": row.repo_url, "branch": row.branch, "periodic": True}
    )
    return git_sync_run(job_id=job.id)
