"""Memory (DESIGN §13, docs/performance.md): what each process imports, and the recycling of worker children.

The import checks run in a fresh interpreter each, so nothing this test process imported can hide a regression.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bifrost_site.tasks import ping_task
from bifrost_site.testing.engine import start_prefork_worker, wait_for

ROOT = Path(__file__).resolve().parents[2]


def imported_after(code: str, **env_overrides) -> dict:
    """Run `code` in a fresh interpreter with the test settings; it prints a JSON answer on its last line."""
    env = {k: v for k, v in os.environ.items() if k != "CELERY_SKIP_CHECKS"}
    env.update({"DJANGO_SETTINGS_MODULE": "bifrost_site.test_settings", "PYTHONPATH": str(ROOT)}, **env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


WEB_ONLY = [
    "bifrost_site.urls",  # the URLconf: every view
    "accounts.admin",  # the admin modules
    "drf_spectacular.openapi",
    "django.test",  # imported by simplejwt's settings, which only the admin and the API load
    "twisted",  # the daphne app: the web process runs the daphne server itself
    "authlib",
]


def test_a_worker_starts_without_the_web_stack():
    # What `celery worker` does before it forks: Django's setup through Celery's fixup (with its system
    # checks, unless skipped), then the task modules of every app.
    loaded = imported_after(
        "import json, sys\n"
        "from bifrost_site.celery import app\n"
        "app.loader.import_default_modules()\n"
        "assert 'executions.tasks' in sys.modules\n"
        f"print(json.dumps([m for m in {WEB_ONLY!r} if m in sys.modules]))\n"
    )
    assert loaded == []


def test_the_web_loads_rarely_used_libraries_on_first_use():
    loaded = imported_after(
        "import json, sys, django\n"
        "django.setup()\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "print(json.dumps([m for m in ('authlib', 'nh3', 'prometheus_client', 'twisted') if m in sys.modules]))\n"
    )
    assert loaded == []


def test_admin_checks_discover_the_admin_modules_first():
    # Discovery moved from AdminConfig.ready() to the URLconf; `manage.py check --tag admin` (which never
    # imports the URLconf) must still check every ModelAdmin.
    before, after, errors = imported_after(
        "import json, django\n"
        "django.setup()\n"
        "from django.contrib import admin\n"
        "from django.core.checks import run_checks\n"
        "before = len(admin.site._registry)\n"
        "errors = [str(e) for e in run_checks(tags=['admin'])]\n"
        "print(json.dumps([before, len(admin.site._registry), errors]))\n"
    )
    assert before == 0
    assert after > 10
    assert errors == []


@pytest.mark.worker
def test_a_child_keeps_serving_under_the_default_memory_limit(prefork_worker):
    children = sorted(prefork_worker.child_pids())
    for n in range(4):
        assert ping_task.apply_async(args=[f"default-{n}"]).get(timeout=30) == {"payload": f"default-{n}"}
    assert sorted(prefork_worker.child_pids()) == children


@pytest.mark.worker
def test_a_child_over_the_memory_limit_is_replaced_after_its_task(
    session_workers, engine_workspace, tmp_path, django_db_blocker
):
    session_workers.stop()  # one worker on this run's queues at a time
    env = {"WORKER_MAX_MEMORY_PER_CHILD_MB": "1"}  # every child is over 1 MB: each task recycles its child
    with start_prefork_worker(engine_workspace, tmp_path, django_db_blocker, concurrency=1, env=env) as worker:

        def one_child(other_than=()):
            pids = worker.child_pids()
            return pids if len(pids) == 1 and pids != other_than else None

        # The readiness ping already recycled a child once: wait until the pool is back to one child.
        first = wait_for(one_child, message="one child")
        assert ping_task.apply_async(args=["big"]).get(timeout=30) == {"payload": "big"}
        wait_for(lambda: one_child(other_than=first), message="a new child")
        assert ping_task.apply_async(args=["after"]).get(timeout=30) == {"payload": "after"}
