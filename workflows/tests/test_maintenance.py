"""Pruning on beat, periodic task declarations, the dead_letters command, and the admin pages."""

import datetime as dt
import json
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from bifrost_site import queues
from bifrost_site.periodic import PERIODIC_TASKS, upsert_periodic_tasks
from executions.maintenance import execution_logs_prune
from executions.models import ExecutionLog
from executions.tests.factories import ExecutionFactory, ExecutionLogFactory
from workflows.models import WorkspaceJob, WorkspaceJobLog
from workflows.services.jobs import JobRecorder, workspace_jobs_prune


def test_execution_logs_prune_only_old_finished_executions(db):
    now = timezone.now()
    old = ExecutionFactory(status="Success", completed_at=now - dt.timedelta(days=40))
    recent = ExecutionFactory(status="Failed", completed_at=now - dt.timedelta(days=2))
    stuck = ExecutionFactory(status="Running", completed_at=None, started_at=now - dt.timedelta(days=90))
    for execution in (old, recent, stuck):
        for i in range(3):
            ExecutionLogFactory(execution=execution, sequence=i + 1)
    assert execution_logs_prune(older_than_days=30, batch_size=2) == 3
    assert not ExecutionLog.objects.filter(execution=old).exists()
    assert ExecutionLog.objects.filter(execution=recent).count() == 3
    assert ExecutionLog.objects.filter(execution=stuck).count() == 3
    old.refresh_from_db()  # the execution itself is kept


def test_workspace_jobs_prune(db):
    now = timezone.now()
    old = WorkspaceJob.objects.create(job_type="git_sync", status="success", completed_at=now - dt.timedelta(days=31))
    JobRecorder(old).lines(["a", "b"])
    running = WorkspaceJob.objects.create(job_type="git_sync", status="running")
    fresh = WorkspaceJob.objects.create(job_type="git_sync", status="failed", completed_at=now)
    assert workspace_jobs_prune(older_than_days=30) == 1
    assert set(WorkspaceJob.objects.values_list("id", flat=True)) == {running.id, fresh.id}
    assert not WorkspaceJobLog.objects.filter(job_id=old.id).exists()


def test_periodic_tasks_are_declared_and_upserted(db):
    from django_celery_beat.models import PeriodicTask

    tasks = {spec.task for spec in PERIODIC_TASKS}
    assert {
        "bifrost_site.prune_execution_logs",
        "bifrost_site.prune_workspace_jobs",
        "workflows.git_sync_periodic",
    } <= tasks
    upsert_periodic_tasks()
    upsert_periodic_tasks()
    for spec in PERIODIC_TASKS:
        assert PeriodicTask.objects.get(name=spec.name).task == spec.task


def test_every_periodic_task_names_a_registered_task():
    # The prune tasks moved from bifrost_site/tasks.py to their apps under their first names: beat's rows still resolve.
    from bifrost_site.celery import app

    app.loader.import_default_modules()
    assert {spec.task for spec in PERIODIC_TASKS} - set(app.tasks) == set()


# --- dead letters on the real broker (this run's prefixed queues) ---


def _dead_letter(task="executions.run_execution", execution_id=None):
    """Publish a Celery-shaped message to the workflows queue and reject it: RabbitMQ dead-letters it."""
    from kombu import Producer

    from bifrost_site.celery import app

    execution_id = execution_id or str(uuid.uuid4())
    name = queues.queue_name(queues.WORKFLOWS)
    with app.connection_for_write() as connection:
        queues.declare_topology(connection)
        channel = connection.channel()
        Producer(channel).publish(
            json.dumps([[execution_id], {}, {}]),
            exchange=name,
            routing_key=name,
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": task, "id": str(uuid.uuid4())},
        )
        queue = queues.work_queue(queues.WORKFLOWS)(channel)
        message = None
        for _ in range(50):
            message = queue.get(no_ack=False)
            if message is not None:
                break
        message.reject(requeue=False)
        channel.close()
    return execution_id


def _drain(queue_factory):
    from bifrost_site.celery import app

    with app.connection_for_write() as connection:
        queues.declare_topology(connection)
        channel = connection.channel()
        queue = queue_factory(queues.WORKFLOWS)(channel)
        out = []
        while (message := queue.get(no_ack=True)) is not None:
            out.append(message)
        channel.close()
    return out


def _wait_dead(count):
    import time

    from bifrost_site.celery import app

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with app.connection_for_write() as connection:
            channel = connection.channel()
            _, messages, _ = queues.dead_letter_queue(queues.WORKFLOWS)(channel).queue_declare(passive=True)
            channel.close()
        if messages >= count:
            return
        time.sleep(0.05)
    raise AssertionError("message was not dead-lettered")


def test_dead_letters_list_requeue_and_discard(db, capsys):
    _drain(queues.dead_letter_queue)
    execution_id = _dead_letter()
    _wait_dead(1)

    call_command("dead_letters", "--queue", "workflows")
    out = capsys.readouterr().out
    assert "1 message(s) dead" in out
    assert f"execution={execution_id}" in out
    assert "task=executions.run_execution" in out
    assert "reason=rejected" in out

    call_command("dead_letters", "--queue", "workflows", "--requeue")
    assert "1 message(s) requeued" in capsys.readouterr().out
    [back] = _drain(queues.work_queue)
    assert json.loads(back.body)[0] == [execution_id]
    assert back.headers["task"] == "executions.run_execution"
    assert "x-death" not in back.headers

    _dead_letter()
    _wait_dead(1)
    call_command("dead_letters", "--queue", "workflows", "--discard")
    assert "1 message(s) discarded" in capsys.readouterr().out
    call_command("dead_letters", "--queue", "workflows")
    assert "0 message(s) dead" in capsys.readouterr().out


# --- admin ---


@pytest.fixture
def admin_site_client(admin_user, client):
    client.force_login(admin_user)
    return client


def test_workflow_admin_links_its_periodic_task(db, admin_site_client):
    from workflows.services.schedules import schedule_sync
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(name="nightly", schedule="0 2 * * *")
    schedule_sync()
    page = admin_site_client.get("/admin/workflows/workflow/").content.decode()
    assert "workflow:nightly (enabled)" in page
    assert "/admin/django_celery_beat/periodictask/" in page


def test_workspace_job_admin_shows_its_output(db, admin_site_client):
    job = WorkspaceJob.objects.create(job_type="git_sync", status="success")
    JobRecorder(job).lines(["Fetching origin", "<b>escaped</b>"])
    page = admin_site_client.get(f"/admin/workflows/workspacejob/{job.id}/change/").content.decode()
    assert "Fetching origin" in page
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page
