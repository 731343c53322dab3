"""The engine rides out a dropped database connection and a dead result backend (issue 9, faults).

Found by bench/faults: a PostgreSQL restart while workflows ran left them `Running` (the final
UPDATE raised on the dead connection), and with Redis down every execute failed with a misleading
503 "RabbitMQ is unreachable" after ~20 s of Celery retrying the result subscription (the run task
now stores no Celery result, and a sync caller that cannot reach Redis reads the row).
"""

import socket
import threading
import time

import psycopg
import pytest
from django.db import connection

from conftest import client_for
from executions.engine.dbretry import retry_db
from executions.engine.runner import execute
from executions.models import Execution, ExecutionLog, ExecutionStatus
from executions.tests.conftest import wait_for
from executions.tests.factories import ExecutionFactory

S = ExecutionStatus


def _drop_every_connection_to_this_database() -> int:
    """What a PostgreSQL restart does to a worker: every session of the (test) database is terminated."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = connection.settings_dict["NAME"]
    with psycopg.connect(
        **{k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname")}
    ) as other:
        rows = other.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: connections are refused


@pytest.mark.django_db(transaction=True)
def test_retry_db_reconnects_after_the_connection_is_killed():
    ExecutionFactory()
    assert _drop_every_connection_to_this_database() >= 1
    assert retry_db(lambda: Execution.objects.count(), what="counting", seconds=10) == 1
    assert Execution.objects.count() == 1  # and the connection stays usable


@pytest.mark.django_db(transaction=True)
def test_retry_db_gives_up_at_its_deadline_and_never_retries_inside_a_transaction():
    from django.db import transaction
    from django.db.utils import OperationalError

    calls = []

    def always_down():
        calls.append(1)
        raise OperationalError("down")

    started = time.monotonic()
    with pytest.raises(OperationalError):
        retry_db(always_down, what="test", seconds=0.5, first_delay=0.1)
    assert 2 <= len(calls) <= 5 and time.monotonic() - started < 2
    calls.clear()
    with transaction.atomic(), pytest.raises(OperationalError):
        retry_db(always_down, what="test", seconds=5)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_an_execution_survives_its_database_connections_being_killed_mid_run(discovered, tmp_path, admin_user):
    marker = tmp_path / "ran.txt"
    execution = ExecutionFactory(
        workflow_name="t_wait", status=S.PENDING, parameters={"seconds": 1.5, "marker": str(marker)}
    )
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(execute(execution.id, task_id="t-1")))
    thread.start()
    try:
        wait_for(lambda: marker.exists(), message="the workflow to start")
        assert _drop_every_connection_to_this_database() >= 1  # the runner's and the log flusher's
    finally:
        thread.join(timeout=60)
        connection.close()  # this thread's session was terminated too
    assert outcome.get("status") == S.SUCCESS, outcome
    execution.refresh_from_db()
    assert execution.status == S.SUCCESS and execution.result == "woke"
    assert ExecutionLog.objects.filter(execution=execution, message="waiting 1.5 seconds").count() == 1


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_execute_answers_from_the_database_when_redis_is_down(prefork_worker, discovered, admin_user, settings):
    # this (web) process cannot reach Redis; the worker still runs the workflow and finishes the row
    settings.REDIS_RESULTS_URL = f"redis://127.0.0.1:{_dead_port()}/0"
    started = time.monotonic()
    response = client_for(admin_user).post("/api/workflows/t_sync/execute", {"parameters": {}}, format="json")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.SUCCESS
    assert elapsed < 15
