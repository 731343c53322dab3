"""A workflow that logs lines slowly, for the WebSocket and log viewer end-to-end tests."""

import logging
import time

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(name="t_slow_lines", execution_mode="async", timeout_seconds=60)
@param("n", type="int", default_value=20)
@param("delay", type="float", default_value=0.1)
def t_slow_lines(n=20, delay=0.1):
    for i in range(n):
        logger.info("slow line %d", i)
        time.sleep(delay)
    return {"lines": n}
