"""Two fixes for Celery's prefork pool: cancelling with a signal the child survives, and time-limit
timers that outlived their jobs.

`execution_cancel` revokes a running task with `terminate=True, signal=SIGUSR1`; the child
turns SIGUSR1 into SoftTimeLimitExceeded, ends the row Cancelled and goes on serving tasks.
billiard's `Pool.terminate_job()` however marks the *process* (not the job) with
`_controlled_termination` and `_job_terminated`, and never clears them. When that same child is
killed later while running another task (OOM killer, SIGKILL), the pool takes the loss for the
old controlled termination: it logs nothing, fails the job with `Terminated` instead of
`WorkerLostError`, and acks the message, so `reject_on_worker_lost` never redelivers it and the
execution stayed Running until the cleanup task's timeout.

`BifrostAsynPool` clears the two flags again after sending a signal the child survives, so a
later death is reported as a lost worker.

The pool arms a timer entry for each job's time limit and cancels it when the job ends. kombu's
timer only marks a cancelled entry and keeps it in its heap until its time comes; with Bifrost's
limits (a workflow's timeout plus a minute, up to hours), the worker's main process held every
finished job's entry, about 0.5 KB with the values it refers to, for that long: it grew by 36 MB
over 60,000 no-op tasks in the benchmark, and by the execution rate times the limit in general
(celery/celery#1427, #5200). `BifrostAsynPool` drops the cancelled entries from the heap once
they are half of it (the rule asyncio applies to its own timer handles), which costs one pass over
the heap per that many cancellations.

The pool is installed on the prefork TaskPool when a worker starts (`install()`, connected to
`worker_init` in bifrost_site/celery.py).
"""

from __future__ import annotations

import heapq
import signal

from celery.concurrency import prefork
from celery.concurrency.asynpool import AsynPool

# Signals a pool child handles and survives (SIGUSR1 -> SoftTimeLimitExceeded in the task).
SURVIVABLE_SIGNALS = frozenset({signal.SIGUSR1})


# Below this many cancellations the heap is left alone, however small it is.
DROP_CANCELLED_AFTER = 1000


class BifrostAsynPool(AsynPool):
    def _create_timelimit_handlers(self, hub):
        super()._create_timelimit_handlers(hub)
        cancel, timer = self.on_timeout_cancel, hub.timer
        self._cancelled_since_drop = 0

        def on_timeout_cancel(result):
            cancel(result)
            self._cancelled_since_drop += 1
            if self._cancelled_since_drop >= max(DROP_CANCELLED_AFTER, len(timer) // 2):
                drop_cancelled_entries(timer)
                self._cancelled_since_drop = 0

        self.on_timeout_cancel = on_timeout_cancel

    def terminate_job(self, pid, sig=None):
        proc, _ = self._process_by_pid(pid)
        super().terminate_job(pid, sig)
        if proc is not None and sig is not None and int(sig) in SURVIVABLE_SIGNALS:
            proc._controlled_termination = False
            proc._job_terminated = False


def drop_cancelled_entries(timer) -> int:
    """Remove the cancelled entries from a kombu timer's heap; return how many went.

    In place: the timer's iterator (the event loop's scheduler) holds the list itself."""
    queue = timer._queue
    live = [event for event in queue if not event.entry.canceled]
    dropped = len(queue) - len(live)
    if dropped:
        heapq.heapify(live)
        queue[:] = live
    return dropped


def install() -> None:
    prefork.TaskPool.Pool = BifrostAsynPool
