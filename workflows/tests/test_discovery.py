"""Discovery: importing the workspace, registry rows, broken/vanished files, reload, watcher."""

import threading
import time
from pathlib import Path

import pytest

from workflows.models import DataProvider, JobStatus, Workflow, WorkspaceJob
from workflows.services import discovery_run
from workflows.services.discovery import load_module

pytestmark = pytest.mark.django_db

HELLO = """
from bifrost import workflow, param, data_provider

@workflow(name="{name}", description="Greets", category="Tests", execution_mode="sync", timeout_seconds=42)
@param("who", type="string", default_value="you")
def {name}(context, who="you"):
    return "{greeting} " + who

@data_provider(name="{name}_options", cache_ttl_seconds=5)
def {name}_options():
    return ["a", "b"]
"""


@pytest.fixture
def workspace(tmp_path, settings):
    settings.WORKSPACE_PATH = tmp_path
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_discovery_writes_rows_with_metadata(workspace):
    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hi"))
    write(workspace / "pkg" / "__init__.py", "")
    write(workspace / "pkg" / "nested.py", HELLO.format(name="nested", greeting="yo"))
    write(workspace / ".hidden" / "skip.py", HELLO.format(name="hidden", greeting="no"))
    write(workspace / ".packages" / "lib.py", "raise RuntimeError('never imported by discovery')")
    write(workspace / "test_things.py", "raise RuntimeError('tests are not workflows')")
    report = discovery_run(reason="test")
    assert report["errors"] == {}
    assert set(Workflow.objects.values_list("name", flat=True)) == {"greet", "nested"}
    greet = Workflow.objects.get(name="greet")
    assert (greet.source_path, greet.timeout_seconds, greet.execution_mode, greet.category) == (
        "greet.py",
        42,
        "sync",
        "Tests",
    )
    assert greet.parameters[0]["name"] == "who" and greet.is_available and greet.discovered_at
    assert len(greet.source_hash) == 64
    assert Workflow.objects.get(name="nested").source_path == "pkg/nested.py"
    assert DataProvider.objects.get(name="greet_options").cache_ttl_seconds == 5


def test_broken_vanished_and_removed_become_unavailable(workspace):
    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hi"))
    write(workspace / "other.py", HELLO.format(name="other", greeting="hey"))
    write(workspace / "third.py", HELLO.format(name="third", greeting="hey"))
    discovery_run(reason="test")
    write(workspace / "greet.py", "import nonexistent_module_xyz\n")
    (workspace / "other.py").unlink()
    write(workspace / "third.py", "X = 1\n")
    report = discovery_run(reason="test")
    assert "greet.py" in report["errors"]
    greet = Workflow.objects.get(name="greet")
    assert not greet.is_available and "nonexistent_module_xyz" in greet.import_error
    other = Workflow.objects.get(name="other")
    assert not other.is_available and "no longer exists" in other.import_error
    third = Workflow.objects.get(name="third")
    assert not third.is_available and "no longer defined" in third.import_error
    # fixed again → available
    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hi"))
    discovery_run(reason="test")
    greet.refresh_from_db()
    assert greet.is_available and greet.import_error == ""


def test_duplicate_name_is_the_second_files_error(workspace):
    write(workspace / "a_first.py", HELLO.format(name="dup", greeting="first"))
    write(workspace / "b_second.py", HELLO.format(name="dup", greeting="second"))
    report = discovery_run(reason="test")
    assert list(report["errors"]) == ["b_second.py"]
    assert "Duplicate workflow name 'dup'" in report["errors"]["b_second.py"]
    row = Workflow.objects.get(name="dup")
    assert row.source_path == "a_first.py" and row.is_available


def test_syntax_error_and_definition_error_are_reported(workspace):
    write(workspace / "syntax.py", "def broken(:\n")
    write(workspace / "bad_decl.py", "from bifrost import workflow\n@workflow(name='Bad Name')\ndef f():\n    pass\n")
    report = discovery_run(reason="test")
    assert set(report["errors"]) == {"syntax.py", "bad_decl.py"}
    assert "SyntaxError" in report["errors"]["syntax.py"]


def test_workflow_code_cannot_import_project_internals(workspace):
    """Discovery installs the import guard: a workspace file reaching into the project is refused
    and reported as that file's import error; a well-behaved neighbour still registers."""
    write(
        workspace / "sneaky.py",
        "from secrets_app.models import Secret\nfrom bifrost import workflow\n@workflow()\ndef sneaky():\n    pass\n",
    )
    write(
        workspace / "fine.py",
        "import json\nfrom bifrost import workflow\n@workflow()\ndef fine():\n    return json.dumps({})\n",
    )
    report = discovery_run(reason="test")
    assert "secrets_app" in report["errors"]["sneaky.py"]
    assert "fine.py" not in report["errors"]
    assert Workflow.objects.get(name="fine").is_available


def test_module_is_reloaded_when_its_hash_changes(workspace):
    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hi"))
    first = load_module("greet.py")
    assert load_module("greet.py") is first  # unchanged file: cached
    assert first.greet(None, "Ann") == "hi Ann"
    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hello"))
    second = load_module("greet.py")
    assert second is not first
    assert second.greet(None, "Ann") == "hello Ann"


def test_an_unchanged_old_file_is_not_read_again_and_its_specs_are_collected_once(workspace, monkeypatch):
    import os

    from bifrost import registry
    from workflows.services import discovery

    path = workspace / "stable.py"
    write(path, HELLO.format(name="stable", greeting="hi"))
    old = time.time() - 3600
    os.utime(path, (old, old))
    hashed, collected = [], []
    real_read, real_collect = discovery.read_source, registry.collect
    monkeypatch.setattr(discovery, "read_source", lambda p: hashed.append(p) or real_read(p))
    monkeypatch.setattr(registry, "collect", lambda module: collected.append(module) or real_collect(module))
    workflows, providers = discovery.load_specs("stable.py")
    assert list(workflows) == ["stable"] and list(providers) == ["stable_options"]
    for _ in range(3):
        assert discovery.load_specs("stable.py") == (workflows, providers)
    assert len(hashed) == 1 and len(collected) == 1
    # touched but not changed: hashed again, not re-imported
    os.utime(path, (old + 1, old + 1))
    module = discovery.load_module("stable.py")
    assert discovery.load_specs("stable.py")[0]["stable"].func is module.stable
    assert len(hashed) == 2 and len(collected) == 1


def test_a_same_size_rewrite_right_after_a_load_is_seen(workspace):
    import os

    from workflows.services import discovery

    path = workspace / "racy.py"
    write(path, HELLO.format(name="racy", greeting="hi"))
    first = discovery.load_module("racy.py")
    tick = path.stat().st_mtime_ns
    write(path, HELLO.format(name="racy", greeting="ho"))  # same size, same inode
    os.utime(path, ns=(tick, tick))  # and in the same tick of the file clock
    second = discovery.load_module("racy.py")
    assert second is not first and second.racy(None, "Ann") == "ho Ann"


def _aged(path, seconds=3600):
    import os

    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_confirmed_file_costs_one_stat_and_a_repointed_symlink_is_seen(workspace, monkeypatch):
    from pathlib import Path

    from workflows.services import discovery

    first_target, second_target = workspace / "v1" / "impl.py", workspace / "v2" / "impl.py"
    write(first_target, HELLO.format(name="linked", greeting="hi"))
    write(second_target, HELLO.format(name="linked", greeting="hello there"))
    _aged(first_target), _aged(second_target)
    link = workspace / "linked.py"
    link.symlink_to(first_target)
    first = discovery.load_module("linked.py")
    resolved = []
    real_resolve = Path.resolve
    monkeypatch.setattr(Path, "resolve", lambda self, *a, **k: resolved.append(self) or real_resolve(self, *a, **k))
    assert discovery.load_module("linked.py") is first and resolved == []  # confirmed: one stat, no path walk
    link.unlink()
    link.symlink_to(second_target)  # same name, other file
    second = discovery.load_module("linked.py")
    assert second is not first and second.linked(None, "Ann") == "hello there Ann"
    assert resolved  # a changed signature takes the full check again
    second_target.unlink()
    link.unlink()
    with pytest.raises(FileNotFoundError):
        discovery.load_module("linked.py")


def test_a_file_reached_through_a_symlink_out_of_the_workspace_is_refused_every_time(workspace, tmp_path_factory):
    from workflows.services import discovery

    outside = tmp_path_factory.mktemp("elsewhere") / "escape.py"
    write(outside, HELLO.format(name="escape", greeting="hi"))
    _aged(outside)
    (workspace / "escape.py").symlink_to(outside)
    for _ in range(2):
        with pytest.raises(ImportError, match="outside the workspace"):
            discovery.load_module("escape.py")


def test_workspace_packages_dir_is_importable(workspace):
    write(workspace / ".packages" / "vendored_helper_xyz.py", "VALUE = 7\n")
    write(
        workspace / "uses_pkg.py",
        "import vendored_helper_xyz\nfrom bifrost import workflow\n"
        "@workflow(name='uses_pkg')\ndef uses_pkg():\n    return vendored_helper_xyz.VALUE\n",
    )
    assert discovery_run(reason="test")["errors"] == {}
    assert load_module("uses_pkg.py").uses_pkg() == 7


def test_discovery_syncs_the_schedules(workspace, monkeypatch):
    from workflows.services import schedules

    called = []
    monkeypatch.setattr(schedules, "schedule_sync", lambda: called.append(True) or {"synced": 0})
    report = discovery_run(reason="test")
    assert called == [True] and report["schedules"] == {"synced": 0}


def test_watcher_debounces_a_burst_into_one_trigger(tmp_path):
    from workflows.watcher import start_watcher

    fired = []
    event = threading.Event()

    def trigger():
        fired.append(time.monotonic())
        event.set()

    observer = start_watcher(tmp_path, trigger=trigger, delay=0.3)
    try:
        time.sleep(0.2)
        for i in range(5):
            (tmp_path / f"wf_{i}.py").write_text("x = 1\n")
            time.sleep(0.02)
        (tmp_path / "notes.txt").write_text("ignored")
        assert event.wait(10)
        time.sleep(0.8)
        assert len(fired) == 1
        event.clear()
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "x.py").write_text("ignored")
        assert not event.wait(1.0)
    finally:
        observer.stop()
        observer.join(5)


# --------------------------------------------------------------------------- API


def test_list_and_detail_read_the_database(admin_client, django_assert_max_num_queries):
    from workflows.tests.factories import WorkflowFactory

    for i in range(5):
        WorkflowFactory(name=f"wf_{i}", category="A" if i % 2 else "B")
    with django_assert_max_num_queries(6):
        response = admin_client.get("/api/workflows")
    assert response.status_code == 200 and response.json()["count"] == 5
    assert admin_client.get("/api/workflows?category=A").json()["count"] == 2
    detail = admin_client.get("/api/workflows/wf_1")
    assert detail.status_code == 200 and detail.json()["name"] == "wf_1"
    assert admin_client.get("/api/workflows/missing").status_code == 404


def test_data_provider_list_and_unknown(admin_client):
    from workflows.tests.factories import DataProviderFactory

    DataProviderFactory(name="p_one")
    DataProviderFactory(name="p_two", is_available=False, import_error="gone")
    assert admin_client.get("/api/data-providers").json()["count"] == 2
    assert admin_client.post("/api/data-providers/nope", {}, format="json").status_code == 404
    assert admin_client.post("/api/data-providers/p_two", {}, format="json").status_code == 409


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_reload_queues_discovery_in_a_worker_and_tracks_the_job(admin_client, workspace):
    from bifrost_site.testing.services import running_worker

    write(workspace / "greet.py", HELLO.format(name="greet", greeting="hi"))
    with running_worker():
        response = admin_client.post("/api/workflows/reload")
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job = WorkspaceJob.objects.get(id=job_id)
            if job.status in (JobStatus.SUCCESS, JobStatus.FAILED):
                break
            time.sleep(0.1)
    assert job.status == JobStatus.SUCCESS, job.error_message
    assert job.result["workflows"] == 1 and job.started_at and job.completed_at
    assert Workflow.objects.filter(name="greet", is_available=True).exists()
