"""Python packages for workflow code, installed into WORKSPACE_PATH/.packages (DESIGN §7).

pip installs into a staging directory next to `.packages`; only a successful install is swapped
in (two renames), so a failed install leaves the previous set untouched. A single package is added
to the current set (the current set is copied to staging first); installing from the workspace
`requirements.txt` builds the set from that file alone.

Names and versions are validated before pip sees them and passed after `--`, so a request can
never smuggle in a pip option. The index comes from settings (PACKAGE_INDEX_URL,
PACKAGE_FIND_LINKS, PACKAGE_NO_INDEX), never from the request.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

from django.conf import settings
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from rest_framework import exceptions

from workflows.models import JobStatus, JobType, WorkspaceJob
from workflows.services import jobs
from workflows.tasks import install_packages_task

PACKAGE_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)  # PEP 508
PACKAGES_DIR = ".packages"
REQUIREMENTS_FILE = "requirements.txt"


def packages_path() -> Path:
    return Path(settings.WORKSPACE_PATH) / PACKAGES_DIR


def package_name_validate(name: str) -> str:
    name = (name or "").strip()
    if not PACKAGE_NAME.match(name) or len(name) > 200:
        raise exceptions.ValidationError({"package": [f"{name!r} is not a valid package name (PEP 508)."]})
    return name


def package_version_validate(version: str) -> str:
    """An exact version (`2.31.0`) or a specifier set (`>=2,<3`); returns the specifier to append."""
    version = (version or "").strip()
    if not version:
        return ""
    if version.startswith("-"):
        raise exceptions.ValidationError({"version": ["Not a version."]})
    try:
        return f"=={Version(version)}"
    except InvalidVersion:
        pass
    try:
        return str(SpecifierSet(version))
    except InvalidSpecifier as exc:
        raise exceptions.ValidationError(
            {"version": [f"{version!r} is neither a version (1.2.3) nor a specifier (>=1.2,<2)."]}
        ) from exc


def packages_list() -> list[dict]:
    path = packages_path()
    if not path.is_dir():
        return []
    found: dict[str, dict] = {}
    for dist in metadata.distributions(path=[str(path)]):
        name = dist.metadata.get("Name")
        if not name:
            continue
        found.setdefault(canonicalize_name(name), {"name": name, "version": dist.version})
    return sorted(found.values(), key=lambda d: d["name"].lower())


def package_install_request(*, package: str = "", version: str = "", requested_by=None) -> WorkspaceJob:
    if package:
        parameters = {"package": package_name_validate(package), "version": version.strip() if version else ""}
        package_version_validate(parameters["version"])
    else:
        if version:
            raise exceptions.ValidationError({"version": ["A version needs a package."]})
        if not (Path(settings.WORKSPACE_PATH) / REQUIREMENTS_FILE).is_file():
            raise exceptions.ValidationError(
                {"package": ["Name a package, or add a requirements.txt to the workspace."]}
            )
        parameters = {"requirements": REQUIREMENTS_FILE}
    return jobs.workspace_job_request(
        job_type=JobType.PACKAGE_INSTALL,
        parameters=parameters,
        requested_by=requested_by,
        publish=lambda job_id: install_packages_task.apply_async(args=[job_id]),
    )


def _index_args() -> list[str]:
    args = []
    if settings.PACKAGE_NO_INDEX:
        args.append("--no-index")
    elif settings.PACKAGE_INDEX_URL:
        args += ["--index-url", settings.PACKAGE_INDEX_URL]
    for link in settings.PACKAGE_FIND_LINKS:
        args += ["--find-links", link]
    return args


def _pip_env() -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "TMPDIR",
    ):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _run_pip(argv: list[str], recorder: jobs.JobRecorder, cwd: Path) -> int:
    recorder.info("$ " + " ".join(argv))
    proc = subprocess.Popen(  # noqa: S603 - argv list, validated names after "--"
        argv,
        cwd=cwd,
        env=_pip_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    timer = threading.Timer(settings.PACKAGE_INSTALL_TIMEOUT_SECONDS, proc.kill)
    timer.start()
    try:
        batch: list[str] = []
        for line in proc.stdout:
            batch.append(line)
            if len(batch) >= 20:
                recorder.lines(batch)
                batch = []
        recorder.lines(batch)
        return proc.wait()
    finally:
        timer.cancel()


def _swap_in(staging: Path, target: Path) -> None:
    """Replace `target` with `staging` by renames; the old set is removed only after the new one is in place."""
    old = target.with_name(f"{target.name}-old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _recover(target: Path) -> None:
    """A crash between the two renames leaves only `-old`: put it back."""
    old = target.with_name(f"{target.name}-old")
    if old.exists() and not target.exists():
        os.rename(old, target)


def package_install_run(*, job_id) -> WorkspaceJob | None:
    job = jobs.job_begin(job_id)
    if job is None:
        return None
    recorder = jobs.JobRecorder(job)
    workspace = Path(settings.WORKSPACE_PATH)
    target = packages_path()
    staging = workspace / f"{PACKAGES_DIR}-staging-{job.id.hex[:12]}"
    params = job.parameters
    try:
        workspace.mkdir(parents=True, exist_ok=True)
        _recover(target)
        if staging.exists():
            shutil.rmtree(staging)
        argv = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(staging),
            "--upgrade",
            "--no-input",
            "--no-color",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            *_index_args(),
        ]
        if params.get("package"):
            spec = package_name_validate(params["package"]) + package_version_validate(params.get("version", ""))
            if target.is_dir():
                shutil.copytree(target, staging, symlinks=True)
            else:
                staging.mkdir(parents=True)
            argv += ["--", spec]
            description = spec
        else:
            requirements = workspace / REQUIREMENTS_FILE
            if not requirements.is_file():
                raise FileNotFoundError(f"{REQUIREMENTS_FILE} is not in the workspace")
            staging.mkdir(parents=True)
            argv += ["--requirement", str(requirements)]
            description = REQUIREMENTS_FILE
        code = _run_pip(argv, recorder, cwd=workspace)
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            message = f"pip failed (exit {code}) installing {description}; the installed packages are unchanged."
            recorder.line(message, stream="stderr")
            return jobs.job_finish(job, status=JobStatus.FAILED, result={"exit_code": code}, error=message)
        _swap_in(staging, target)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        message = f"{type(exc).__name__}: {exc}"
        recorder.line(message, stream="stderr")
        return jobs.job_finish(job, status=JobStatus.FAILED, error=message)

    installed = packages_list()
    recorder.info(f"installed {description}; {len(installed)} package(s) in {PACKAGES_DIR}")
    result = {"installed": description, "packages": installed}
    try:
        result["discovery"] = jobs.discovery_after(recorder, reason="package_install")
    except Exception as exc:
        message = f"installed, but discovery failed: {type(exc).__name__}: {exc}"
        recorder.line(message, stream="stderr")
        return jobs.job_finish(job, status=JobStatus.FAILED, result=result, error=message)
    return jobs.job_finish(job, status=JobStatus.SUCCESS, result=result)
