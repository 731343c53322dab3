"""The smallest workflow: sync, returns a dict."""

import logging

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(name="hello_world", description="Say hello", category="Examples", execution_mode="sync", timeout_seconds=30)
@param("name", type="string", default_value="World", help_text="Who to greet")
def hello_world(context, name="World"):
    greeting = f"Hello, {name}!"
    logger.info("greeting %s (execution %s)", name, context.execution_id)
    return {"greeting": greeting, "scope": context.scope}
