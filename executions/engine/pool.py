"""A fix for billiard's prefork pool: cancelling with a signal the child survives.

`execution_cancel` revokes a running task with `terminate=True, signal=SIGUSR1`; the child
turns SIGUSR1 into SoftTimeLimitExceeded, ends the row Cancelled and goes on serving tasks.
billiard's `Pool.terminate_job()` however marks the *process* (not the job) with
`_controlled_termination` and `_job_terminated`, and never clears them. When that same child is
killed later while running another task (OOM killer, SIGKILL), the pool takes the loss for the
old controlled termination: it logs nothing, fails the job with `Terminated` instead of
`WorkerLostError`, and acks the message, so `reject_on_worker_lost` never redelivers it and the
execution stayed Running until the cleanup task's timeout.

`BifrostAsynPool` clears the two flags again after sending a signal the child survives, so a
later death is reported as a lost worker. It is installed on the prefork TaskPool when a worker
starts (`install()`, connected to `worker_init` in bifrost_site/celery.py).
"""

from __future__ import annotations

import signal

from celery.concurrency import prefork
from celery.concurrency.asynpool import AsynPool

# Signals a pool child handles and survives (SIGUSR1 -> SoftTimeLimitExceeded in the task).
SURVIVABLE_SIGNALS = frozenset({signal.SIGUSR1})


class BifrostAsynPool(AsynPool):
    def terminate_job(self, pid, sig=None):
        proc, _ = self._process_by_pid(pid)
        super().terminate_job(pid, sig)
        if proc is not None and sig is not None and int(sig) in SURVIVABLE_SIGNALS:
            proc._controlled_termination = False
            proc._job_terminated = False


def install() -> None:
    prefork.TaskPool.Pool = BifrostAsynPool
