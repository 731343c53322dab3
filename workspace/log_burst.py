"""Logs many lines quickly: exercises live log streaming (and the 10,000-line budget)."""

import logging

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(
    name="log_burst", description="Log `lines` lines as fast as possible", category="Examples", timeout_seconds=120
)
@param("lines", type="int", default_value=1000, validation={"min": 1, "max": 100000})
def log_burst(lines=1000):
    for number in range(1, lines + 1):
        logger.info("line %d of %d", number, lines)
    return {"lines": lines}
