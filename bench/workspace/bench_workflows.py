"""Workflows the benchmarks run. Kept out of the example workspace on purpose."""

import logging

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(name="bench_noop_sync", execution_mode="sync", description="Does nothing, synchronously.")
def bench_noop_sync():
    return {"ok": True}


@workflow(name="bench_noop_async", execution_mode="async", description="Does nothing, asynchronously.")
def bench_noop_async():
    return None


@workflow(name="bench_log_lines", execution_mode="async", description="Logs N numbered lines.")
@param("lines", type="int", default_value=10000)
def bench_log_lines(lines):
    for i in range(lines):
        logger.info("line %d", i)
    return {"lines": lines}
