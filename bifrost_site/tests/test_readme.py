"""The README's examples are true (issue 18 item 16), run as a reader would run them.

- Every ```python block that defines a workflow is a file of `workspace/`, verbatim.
- Every ```sh block that calls the server (`curl`) or the shell command (`manage.py`) is run, in the
  README's order, as one bash script against a live test server (pytest-django's `live_server`) and
  a real prefork worker on a copy of `workspace/`: each request must answer 2xx (`curl --fail-with-body`),
  each command exit 0, and every run it starts must end `Success`.
- Every http://127.0.0.1:8000/... address in the README answers on the live server (no 404, no 5xx).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bifrost_site.testing.engine import REPO_ROOT, process_env, start_prefork_worker, wait_for

README = REPO_ROOT / "README.md"
WORKSPACE = REPO_ROOT / "workspace"
DEV_SERVER = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)

# Every curl fails on a non-2xx answer and prints what it got; each answer ends its own line.
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body --show-error --max-time 120 "$@"; echo; }
"""


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def shell_examples() -> str:
    return "\n".join(block for block in blocks("sh") if "curl " in block or "manage.py" in block)


def test_the_readme_has_examples_to_run():
    script = shell_examples()
    assert "/api/workflows/onboard_user/execute" in script
    assert "manage.py run_workflow" in script
    assert script.count("curl ") >= 8


def test_every_workflow_in_the_readme_is_a_workspace_file_verbatim():
    files = {path.name: path.read_text() for path in WORKSPACE.glob("*.py")}
    shown = [block for block in blocks("python") if "@workflow" in block]
    assert shown, "the README shows no workflow"
    for block in shown:
        matches = [name for name, text in files.items() if text == block]
        assert matches, f"this README workflow is not a file of workspace/ (verbatim):\n{block}"


@pytest.fixture(scope="module")
def readme_workspace(tmp_path_factory) -> Path:
    """A copy of workspace/: the worker and discovery write caches beside the code."""
    path = tmp_path_factory.mktemp("readme") / "workspace"
    shutil.copytree(WORKSPACE, path, ignore=shutil.ignore_patterns("__pycache__", ".packages", ".staging"))
    return path


@pytest.fixture(scope="module")
def readme_worker(readme_workspace, tmp_path_factory, session_workers, django_db_blocker):
    """This module's own worker, on the copy of workspace/ (the session worker, on the test
    workspace, is stopped first so that no run lands on it)."""
    session_workers.stop()
    with start_prefork_worker(readme_workspace, tmp_path_factory.mktemp("readme_worker"), django_db_blocker) as w:
        yield w


@pytest.fixture
def readme_server(live_server, readme_workspace, settings):
    from accounts.tests.factories import PlatformAdminFactory
    from workflows.services import discovery_run

    settings.WORKSPACE_PATH = readme_workspace
    report = discovery_run(reason="test")
    assert not report["errors"], report["errors"]
    PlatformAdminFactory(email="admin@localhost", password="admin")  # the README's dev credentials
    return live_server


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_readme_shell_examples_run_against_a_live_server(
    readme_server, readme_worker, readme_workspace, django_db_blocker
):
    from executions.models import Execution

    script = shell_examples().replace(DEV_SERVER, readme_server.url)
    env = process_env(readme_workspace, django_db_blocker)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # `python` = this venv
    env["BIFROST_BASE_URL"] = readme_server.url
    answer = subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert answer.returncode == 0, f"a README example failed:\n{answer.stdout}\n{answer.stderr}"

    def finished():
        rows = list(Execution.objects.select_related("organization"))
        return rows if rows and all(row.is_complete for row in rows) else None

    rows = wait_for(finished, timeout=120, interval=0.2, message="the README's runs to finish")
    assert {r.workflow_name for r in rows} == {"create_mailbox", "onboard_user", "hello_world"}
    failures = [(r.workflow_name, r.status, r.error_type, r.error_message) for r in rows if r.status != "Success"]
    assert not failures, failures
    mailbox = next(r for r in rows if r.workflow_name == "create_mailbox")
    assert mailbox.result == {"created": "new@contoso.com", "licence": "E3", "tenant": "contoso.onmicrosoft.com"}
    assert '"greeting": "Hello, Ada!"' in answer.stdout  # run_workflow --sync prints the result
    assert {r.organization.domain for r in rows if r.organization is not None} == {"contoso.com"}


@pytest.mark.django_db(transaction=True)
def test_every_readme_address_answers_on_a_live_server(live_server):
    import requests

    addresses = sorted(set(re.findall(r"http://127\.0\.0\.1:8000(/[^\s|)`,<>&]*)?", README.read_text())))
    assert "/api/" in addresses and "/admin/" in addresses and "/docs" in addresses
    session = requests.Session()
    for path in addresses:
        response = session.get(live_server.url + (path or "/"), timeout=30, allow_redirects=False)
        assert response.status_code != 404 and response.status_code < 500, f"{path}: {response.status_code}"
