"""Package installs from a local wheel directory with no index; the swap keeps the old set on failure."""

import base64
import hashlib
import zipfile

import pytest

from workflows.models import JobStatus, JobType, WorkspaceJob
from workflows.services import packages


def build_wheel(directory, name: str, version: str, body: str = "VALUE = 1\n") -> str:
    """Write a minimal pure-Python wheel by hand (PEP 427)."""
    dist = f"{name}-{version}"
    filename = directory / f"{dist}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n{body}',
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: bifrost-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    with zipfile.ZipFile(filename, "w") as wheel:
        for path, content in files.items():
            data = content.encode()
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        wheel.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return str(filename)


@pytest.fixture
def wheels(tmp_path, settings):
    directory = tmp_path / "wheels"
    directory.mkdir()
    settings.WORKSPACE_PATH = tmp_path / "workspace"
    settings.PACKAGE_NO_INDEX = True
    settings.PACKAGE_FIND_LINKS = [str(directory)]
    build_wheel(directory, "bifrost_demo_pkg", "1.0.0")
    build_wheel(directory, "bifrost_demo_pkg", "2.0.0")
    build_wheel(directory, "bifrost_other_pkg", "0.3.0")
    return directory


def install(**parameters) -> WorkspaceJob:
    job = WorkspaceJob.objects.create(job_type=JobType.PACKAGE_INSTALL, parameters=parameters)
    return packages.package_install_run(job_id=job.id)


def names(job):
    return "\n".join(job.logs.values_list("message", flat=True))


@pytest.mark.slow
def test_install_pin_upgrade_and_add(db, wheels, settings):
    job = install(package="bifrost_demo_pkg", version="1.0.0")
    assert job.status == JobStatus.SUCCESS, names(job)
    assert packages.packages_list() == [{"name": "bifrost_demo_pkg", "version": "1.0.0"}]
    assert (settings.WORKSPACE_PATH / ".packages" / "bifrost_demo_pkg" / "__init__.py").exists()

    job = install(package="bifrost_other_pkg")
    assert job.status == JobStatus.SUCCESS, names(job)
    assert packages.packages_list() == [
        {"name": "bifrost_demo_pkg", "version": "1.0.0"},
        {"name": "bifrost_other_pkg", "version": "0.3.0"},
    ]
    job = install(package="bifrost_demo_pkg", version=">=2")
    assert job.status == JobStatus.SUCCESS, names(job)
    assert {"name": "bifrost_demo_pkg", "version": "2.0.0"} in packages.packages_list()
    assert "discovery" in job.result
    assert not list(settings.WORKSPACE_PATH.glob(".packages-*"))  # no staging or old directories left


@pytest.mark.slow
def test_failed_install_leaves_the_old_set_intact(db, wheels):
    assert install(package="bifrost_demo_pkg", version="1.0.0").status == JobStatus.SUCCESS
    job = install(package="bifrost_missing_pkg")
    assert job.status == JobStatus.FAILED
    assert "unchanged" in job.error_message
    assert "No matching distribution" in names(job) or "Could not find" in names(job)
    assert packages.packages_list() == [{"name": "bifrost_demo_pkg", "version": "1.0.0"}]


@pytest.mark.slow
def test_install_from_requirements_txt(db, wheels, settings):
    settings.WORKSPACE_PATH.mkdir(parents=True)
    (settings.WORKSPACE_PATH / "requirements.txt").write_text("bifrost_demo_pkg==2.0.0\nbifrost_other_pkg\n")
    job = install(requirements="requirements.txt")
    assert job.status == JobStatus.SUCCESS, names(job)
    assert [p["name"] for p in packages.packages_list()] == ["bifrost_demo_pkg", "bifrost_other_pkg"]


@pytest.mark.parametrize("name", ["-e", "--index-url=http://evil", "pkg; rm -rf /", "a b", "pkg==1", "", "_x"])
def test_package_names_are_validated(name):
    with pytest.raises(Exception) as excinfo:
        packages.package_name_validate(name)
    assert "package" in excinfo.value.detail


@pytest.mark.parametrize(("version", "spec"), [("1.2.3", "==1.2.3"), (">=1,<2", "<2,>=1"), ("", "")])
def test_versions_become_specifiers(version, spec):
    assert packages.package_version_validate(version) == spec


@pytest.mark.parametrize("version", ["--pre", "latest", "1.0 --index-url x", "==1;x"])
def test_bad_versions_are_rejected(version):
    with pytest.raises(Exception) as excinfo:
        packages.package_version_validate(version)
    assert "version" in excinfo.value.detail


def test_install_api(db, admin_client, wheels, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            "/api/packages/install", {"package": "bifrost_demo_pkg", "version": "1.0.0"}, format="json"
        )
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    job = WorkspaceJob.objects.get(id=response.json()["job_id"])
    assert job.parameters == {"package": "bifrost_demo_pkg", "version": "1.0.0"}

    bad = admin_client.post("/api/packages/install", {"package": "--upgrade"}, format="json")
    assert bad.status_code == 400 and "package" in bad.json()["details"]
    bad = admin_client.post("/api/packages/install", {}, format="json")  # no requirements.txt in the workspace
    assert bad.status_code == 400
    bad = admin_client.post("/api/packages/install", {"package": "x", "version": "-1 --pre"}, format="json")
    assert bad.status_code == 400 and "version" in bad.json()["details"]


def test_list_api(db, admin_client, wheels):
    body = admin_client.get("/api/packages").json()
    assert body["count"] == 0 and body["results"] == []
