"""A workflow that uses an OAuth connection through the SDK (oauth_app end-to-end tests)."""

import logging

from bifrost import oauth, param, workflow

logger = logging.getLogger(__name__)


@workflow(name="t_oauth_token", execution_mode="sync", timeout_seconds=30)
@param("connection", type="string", required=True)
def t_oauth_token(connection):
    token = oauth.get_token(connection)
    details = oauth.get(connection)
    # the token inside a URL (quoted) and as-is: both must be masked before storage
    logger.info("GET https://graph.example/v1.0/me?access_token=%s", token)
    return {"token": token, "length": len(token), "scopes": details["scopes"], "expires_at": details["expires_at"]}
