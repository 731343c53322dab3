"""The prefork pool's time-limit timers (executions.engine.pool): a finished job's cancelled entry
does not stay in the worker's timer heap until its limit would have passed.

The pool's handlers run here on a real kombu Hub and timer, as the worker's main process runs them,
without child processes: each job arms its limit when a child accepts it and cancels it when the
job ends (billiard's ApplyResult._ack and _set)."""

from types import SimpleNamespace

from celery.concurrency.asynpool import AsynPool
from kombu.asynchronous import Hub

from executions.engine import pool

SOFT, HARD = 7260, 7320  # a two-hour workflow's limits, in seconds


def _handlers(pool_class) -> tuple[AsynPool, Hub]:
    hub = Hub()
    handlers = pool_class.__new__(pool_class)  # the handlers only, no processes
    handlers._create_timelimit_handlers(hub)
    return handlers, hub


def _run_jobs(handlers, first: int, count: int) -> None:
    for number in range(first, first + count):
        job = SimpleNamespace(_job=number)
        handlers.on_timeout_set(job, SOFT, HARD)
        handlers.on_timeout_cancel(job)


def test_celerys_own_pool_keeps_every_finished_jobs_entry():
    handlers, hub = _handlers(AsynPool)
    _run_jobs(handlers, 0, 3000)
    assert len(hub.timer) == 3000  # what the fix is for: all cancelled, none gone


def test_cancelled_entries_are_dropped_once_they_are_half_the_heap():
    handlers, hub = _handlers(pool.BifrostAsynPool)
    running = [SimpleNamespace(_job=-number) for number in range(1, 6)]
    for job in running:  # five jobs still running: their entries must stay
        handlers.on_timeout_set(job, SOFT, HARD)
    for batch in range(10):
        _run_jobs(handlers, batch * 1000, 1000)
        assert len(hub.timer) <= pool.DROP_CANCELLED_AFTER + len(running)
    live = [event.entry for event in hub.timer._queue if not event.entry.canceled]
    assert sorted(entry.args[0] for entry in live) == sorted(job._job for job in running)
    handlers.on_timeout_cancel(running[0])
    assert sum(not event.entry.canceled for event in hub.timer._queue) == 4


def test_dropping_keeps_the_heap_in_order_and_the_same_list():
    hub = Hub()
    entries = [hub.call_later(delay, print) for delay in (50, 10, 40, 20, 30, 60)]
    for entry in entries[::2]:  # 50, 40 and 30 s
        entry.cancel()
    queue = hub.timer._queue
    assert pool.drop_cancelled_entries(hub.timer) == 3
    assert hub.timer._queue is queue  # the event loop's scheduler iterates this very list
    assert [event.entry for event in hub.timer.queue] == [entries[1], entries[3], entries[5]]
    assert pool.drop_cancelled_entries(hub.timer) == 0
