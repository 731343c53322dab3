"""Workflows started by a schedule or a webhook, for the end-to-end tests of those triggers."""

import logging

from bifrost import param, workflow

logger = logging.getLogger(__name__)


@workflow(name="t_every_minute", execution_mode="async", timeout_seconds=30, schedule="* * * * *")
def t_every_minute(context):
    logger.info("tick by %s", context.executed_by_name)
    return {"by": context.executed_by_name, "scope": context.scope, "trigger": context.trigger}


@workflow(
    name="t_hook", execution_mode="sync", timeout_seconds=30, endpoint_enabled=True, allowed_methods=["POST", "GET"]
)
@param("ticket", type="int", required=True)
@param("urgent", type="bool", default_value=False)
@param("note", type="string", default_value="")
def t_hook(context, ticket, urgent=False, note=""):
    return {"ticket": ticket, "urgent": urgent, "note": note, "by": context.executed_by_name}


@workflow(name="t_hook_async", execution_mode="async", timeout_seconds=30, endpoint_enabled=True)
@param("ticket", type="int", required=True)
def t_hook_async(ticket):
    return {"ticket": ticket}


@workflow(name="t_public_hook", execution_mode="sync", timeout_seconds=30, endpoint_enabled=True, public_endpoint=True)
def t_public_hook(context):
    return {"by": context.executed_by_name}
