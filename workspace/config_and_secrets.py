"""Reading config and secrets (organization first, then GLOBAL); values of secrets are masked."""

import logging

from bifrost import ConfigurationError, UserError, config, secrets, workflow

logger = logging.getLogger(__name__)


@workflow(name="config_and_secrets", description="Show which config applies", category="Examples")
def config_and_secrets(context):
    tenant = config.get("tenant_name", default="(not configured)")
    try:
        api_key = secrets.get("example_api_key")
    except ConfigurationError as exc:
        raise UserError(f"Ask an administrator to create the secret: {exc}") from None
    # The value is replaced by *** in this log line, in the result and in the variables.
    logger.info("calling the API for %s with key %s", tenant, api_key)
    return {"tenant": tenant, "key_used": api_key}
