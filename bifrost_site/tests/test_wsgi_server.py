"""The split deployment's HTTP server, for real: granian serving bifrost_site.wsgi as docker/start-web.sh starts
it (WEB_SERVER=split), against this run's test database and the real prefork worker.

test_containers.py checks the command line start-web.sh builds with stubs; this checks that the server it names
runs the application: request bodies reach DRF, a sync execute waits for the worker and answers, errors keep their
JSON shape, and SIGTERM stops it cleanly."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from bifrost_site.testing.engine import REPO_ROOT, process_env, wait_for
from bifrost_site.testing.ports import free_port

# the virtualenv's granian (requirements.txt), else one on PATH
_VENV_GRANIAN = Path(sys.executable).with_name("granian")
GRANIAN = str(_VENV_GRANIAN) if _VENV_GRANIAN.exists() else shutil.which("granian")


@pytest.fixture
def granian(engine_workspace, django_db_blocker, tmp_path):
    if GRANIAN is None:
        pytest.fail("granian is not installed: it is in requirements.txt (make venv-dev)")
    port = free_port()
    log_path = tmp_path / "granian.log"
    argv = [GRANIAN, "--interface", "wsgi"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--blocking-threads", "4"]
    argv += ["--respawn-failed-workers", "bifrost_site.wsgi:application"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=process_env(engine_workspace, django_db_blocker), stdout=log, stderr=log
        )
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port=port, maxsize=2, retries=False, timeout=30)

    def live():
        try:
            return pool.request("GET", "/health/live").status == 200
        except urllib3.exceptions.HTTPError:
            return process.poll() is not None  # stop waiting; the assertion below says why

    try:
        wait_for(live, timeout=60, interval=0.2, message="granian to answer")
        assert process.poll() is None, log_path.read_text()
        yield process, pool
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _json(response) -> dict:
    return json.loads(response.data)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_granian_serves_the_api_and_a_sync_run_end_to_end(granian, prefork_worker, discovered, admin_user):
    from accounts.services import tokens_issue

    process, pool = granian
    token = tokens_issue(user=admin_user).access_token
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    anonymous = pool.request("GET", "/api/workflows")
    assert anonymous.status == 401 and anonymous.headers["Content-Type"].startswith("application/json")

    body = json.dumps({"parameters": {"name": "granian", "count": 2}}).encode()
    ran = pool.request("POST", "/api/workflows/t_sync/execute", body=body, headers=auth)
    assert ran.status == 200, ran.data
    answer = _json(ran)
    assert answer["status"] == "Success" and answer["execution_id"]
    assert answer["result"]["name"] == "granian" and answer["result"]["doubled"] == 4

    bad = pool.request(
        "POST", "/api/workflows/t_sync/execute", body=json.dumps({"parameters": {"count": 99}}).encode(), headers=auth
    )
    assert bad.status == 400 and "count" in json.dumps(_json(bad))
    assert pool.request("POST", "/api/workflows/no_such_workflow/execute", body=b"{}", headers=auth).status == 404

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
