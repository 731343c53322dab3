"""An async workflow that logs a line per step and sleeps: for live logs and cancel demos."""

import asyncio
import logging

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(
    name="long_running",
    description="Log a line every `interval` seconds for `steps` steps",
    category="Examples",
    execution_mode="async",
    timeout_seconds=900,
)
@param("steps", type="int", default_value=30, validation={"min": 1, "max": 10000})
@param("interval", type="float", default_value=1.0, validation={"min": 0, "max": 60})
async def long_running(context, steps=30, interval=1.0):
    for step in range(1, steps + 1):
        logger.info("step %d of %d", step, steps)
        await asyncio.sleep(interval)
    print(f"done after {steps} steps")
    return {"steps": steps}
