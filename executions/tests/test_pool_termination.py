"""The prefork pool's termination marks (executions.engine.pool): a child that survived a cancel
signal is not taken for a controlled termination when it dies later.

Runs billiard's `terminate_job` against a real process (a `sleep`), without a worker: the first test
pins the upstream behaviour the fix exists for, so it fails (and the fix can go) once billiard
clears the marks itself."""

import signal
import subprocess
from types import SimpleNamespace

import pytest
from celery.concurrency.asynpool import AsynPool

from executions.engine import pool


def _terminate(pool_class, sig) -> SimpleNamespace:
    child = subprocess.Popen(["sleep", "30"])
    try:
        proc = SimpleNamespace(pid=child.pid, _controlled_termination=False, _job_terminated=False)
        instance = pool_class.__new__(pool_class)  # the method only, no processes of its own
        instance._pool = [proc]
        instance.terminate_job(child.pid, sig)
        return proc
    finally:
        child.kill()
        child.wait()


def test_billiard_marks_the_process_for_good_after_any_signal():
    proc = _terminate(AsynPool, signal.SIGUSR1)
    assert (proc._controlled_termination, proc._job_terminated) == (True, True)  # what the fix is for


def test_a_survivable_signal_leaves_no_marks():
    proc = _terminate(pool.BifrostAsynPool, signal.SIGUSR1)
    assert (proc._controlled_termination, proc._job_terminated) == (False, False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killing_signal_keeps_billiards_marks(sig):
    proc = _terminate(pool.BifrostAsynPool, sig)
    assert (proc._controlled_termination, proc._job_terminated) == (True, True)
