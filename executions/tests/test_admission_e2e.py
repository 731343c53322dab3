"""Run admission on the real prefork worker and broker (DESIGN §15): limits under concurrent submits,
runs a lost wake-up left waiting, deferred runs on time and cancelled. Assertions are on the rows'
recorded states and times, never on how fast the machine is."""

import datetime
import re
import threading

import pytest
from django.db import connection
from django.utils import timezone

from bifrost_site.testing.engine import start_beat, wait_for
from executions.models import Execution, ExecutionStatus, WaitingReason
from executions.services import execution_cancel, execution_start
from orgs.tests.factories import OrganizationFactory
from workflows.models import Workflow

S = ExecutionStatus
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _all_finished(ids, timeout=90):
    return wait_for(
        lambda: Execution.objects.filter(id__in=ids, status=S.SUCCESS).count() == len(ids),
        timeout=timeout,
        message=f"{len(ids)} runs to succeed",
    )


def _max_overlap(executions) -> int:
    """The most runs that were Running at one moment, from their recorded start and end times."""
    events = []
    for execution in executions:
        events += [(execution.started_at, 1), (execution.completed_at, -1)]
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a start at the same instant
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def _submit_concurrently(jobs: list[dict], threads: int = 6) -> list[str]:
    """Start runs from several threads at once, each on its own database connection."""
    ids, errors, lock = [], [], threading.Lock()
    barrier = threading.Barrier(threads)
    chunks = [jobs[i::threads] for i in range(threads)]

    def submit(chunk):
        try:
            barrier.wait()
            for job in chunk:
                started = execution_start(trigger="manual", **job)
                with lock:
                    ids.append(started.execution.id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=submit, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    return ids


def test_organization_limit_holds_under_concurrent_submits(prefork_worker, discovered, settings):
    """Org A (limit 1) and org B (limit 1) submit 8 runs each from 6 threads: each organization never has
    two running at once, while the worker's two processes run one of each side by side."""
    a, b = OrganizationFactory(max_concurrent_runs=1), OrganizationFactory(max_concurrent_runs=1)
    jobs = [
        {"workflow_name": "t_wait", "parameters": {"seconds": 0.3}, "organization": org}
        for _ in range(8)
        for org in (a, b)
    ]
    ids = _submit_concurrently(jobs)
    assert len(ids) == 16
    assert Execution.objects.filter(id__in=ids, waiting_reason=WaitingReason.ORGANIZATION_CONCURRENCY).exists()
    _all_finished(ids)
    runs = list(Execution.objects.filter(id__in=ids))
    assert _max_overlap([r for r in runs if r.organization_id == a.id]) == 1
    assert _max_overlap([r for r in runs if r.organization_id == b.id]) == 1
    assert _max_overlap(runs) == 2  # the pool was not what held each organization to one


def test_workflow_limit_holds_across_organizations(prefork_worker, discovered, settings):
    Workflow.objects.filter(name="t_wait").update(max_concurrency_override=1)
    try:
        orgs = [OrganizationFactory(), OrganizationFactory(), None]
        jobs = [{"workflow_name": "t_wait", "parameters": {"seconds": 0.2}, "organization": o} for o in orgs * 3]
        ids = _submit_concurrently(jobs, threads=3)
        _all_finished(ids)
        assert _max_overlap(list(Execution.objects.filter(id__in=ids))) == 1
    finally:
        Workflow.objects.filter(name="t_wait").update(max_concurrency_override=None)


def test_runs_left_waiting_by_a_crash_are_admitted_by_the_periodic_pass(
    prefork_worker, discovered, tmp_path, django_db_blocker
):
    """Runs accepted as waiting by a process that then died (no wake-up will ever come) are published by
    beat's admission pass, and each runs once."""
    from bifrost_site.periodic import upsert_periodic_tasks

    org = OrganizationFactory(max_concurrent_runs=5)
    left = [
        Execution.objects.create(
            workflow_name="t_async",
            organization=org,
            status=S.PENDING,
            waiting_reason=WaitingReason.ORGANIZATION_CONCURRENCY,
            celery_task_id=f"lost-{i}-{org.id}",
            executed_by_name="system",
        )
        for i in range(3)
    ]
    upsert_periodic_tasks()
    with start_beat(tmp_path, django_db_blocker):
        _all_finished([e.id for e in left])
    assert all(e.attempt == 1 for e in Execution.objects.filter(id__in=[e.id for e in left]))


def test_a_deferred_run_starts_at_its_time_never_before(prefork_worker, discovered, org):
    run_at = timezone.now() + datetime.timedelta(seconds=3)
    started = execution_start(workflow_name="t_async", parameters={}, trigger="manual", organization=org, run_at=run_at)
    execution = started.execution
    assert execution.status == S.SCHEDULED and started.mode == "async"
    assert Execution.objects.get(id=execution.id).status == S.SCHEDULED  # published with an eta, not yet run
    _all_finished([execution.id], timeout=60)
    execution.refresh_from_db()
    assert execution.scheduled_for == run_at
    assert execution.started_at >= run_at  # admitted by its eta (no beat runs here), never early


def _admissions_handled(worker) -> int:
    return len(re.findall(r"executions\.admit_scheduled\[[^\]]+\] succeeded", worker.log()))


def test_a_deferred_run_cancelled_before_its_time_never_runs(prefork_worker, discovered, org, admin_user):
    handled = _admissions_handled(prefork_worker)
    run_at = timezone.now() + datetime.timedelta(seconds=2)
    execution = execution_start(
        workflow_name="t_async", parameters={}, trigger="manual", organization=org, run_at=run_at
    ).execution
    assert execution_cancel(execution=execution, user=admin_user).status == S.CANCELLED
    # The eta'd admission still arrives at its time and finds nothing to admit.
    wait_for(
        lambda: _admissions_handled(prefork_worker) > handled,
        timeout=60,
        message="the deferred admission to be handled",
    )
    execution.refresh_from_db()
    assert execution.status == S.CANCELLED and execution.started_at is None
