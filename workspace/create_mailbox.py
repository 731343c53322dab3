import logging

from bifrost import UserError, config, param, secrets, workflow

logger = logging.getLogger(__name__)


@workflow(name="create_mailbox", description="Create a mailbox", category="Users", timeout_seconds=600)
@param("email", type="email", required=True, help_text="New user's address")
@param("licence", type="string", default_value="E3")
def create_mailbox(context, email, licence):
    logger.info("creating %s for %s", email, context.organization.name if context.organization else "GLOBAL")
    tenant = config.get("tenant_id")
    if tenant is None:
        raise UserError("This organization has no tenant_id configured.")
    api_key = secrets.get("graph_api_key")  # masked as *** in every stored or streamed line
    logger.info("calling the mail API of %s with key %s", tenant, api_key)
    return {"created": email, "licence": licence, "tenant": tenant}
