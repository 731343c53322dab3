"""Workflows the fault scenarios run (bench/faults). Each one records that it ran."""

import logging
import os
import time

from bifrost import param, workflow

logger = logging.getLogger(__name__)


def _record(context, marker_dir):
    """Append this execution's id to marker_dir/runs.txt (O_APPEND: one whole line per write)."""
    if marker_dir:
        fd = os.open(os.path.join(marker_dir, "runs.txt"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{context.execution_id} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


@workflow(name="fault_noop", execution_mode="async", timeout_seconds=120, description="Does nothing.")
@param("marker_dir", type="string", default_value="")
def fault_noop(context, marker_dir=""):
    _record(context, marker_dir)
    return {"ok": True}


@workflow(name="fault_sync", execution_mode="sync", timeout_seconds=60, description="Answers at once, sync.")
def fault_sync(context):
    logger.info("sync run %s", context.execution_id)
    return {"ok": True}


@workflow(name="fault_sleep", execution_mode="async", timeout_seconds=300, description="Logs, sleeps, logs.")
@param("seconds", type="float", default_value=1.0)
@param("lines", type="int", default_value=3)
@param("marker_dir", type="string", default_value="")
def fault_sleep(context, seconds=1.0, lines=3, marker_dir=""):
    _record(context, marker_dir)
    step = seconds / max(lines, 1)
    for i in range(lines):
        logger.info("line %d of %s", i, context.execution_id)
        time.sleep(step)
    return {"slept": seconds, "lines": lines}
