"""Parameters of several types, a data provider-backed field, and a partial failure result."""

import logging

from bifrost import UserError, param, workflow

logger = logging.getLogger(__name__)


@workflow(name="onboard_user", description="Create a user (simulated)", category="Users", timeout_seconds=600)
@param("email", type="email", required=True, help_text="New user's address")
@param("display_name", type="string", required=True, validation={"pattern": r"[A-Za-z .'-]{2,80}"})
@param("licence", type="string", data_provider="licence_types", default_value="basic")
@param("mailbox_gb", type="int", default_value=50, validation={"min": 1, "max": 100})
@param("start_date", type="date")
@param("groups", type="list", help_text="Group names")
@param("send_welcome", type="bool", default_value=True)
@param("extra", type="json", help_text="Free-form attributes")
def onboard_user(
    context,
    email,
    display_name,
    licence="basic",
    mailbox_gb=50,
    start_date=None,
    groups=None,
    send_welcome=True,
    extra=None,
):
    if email.endswith("@example.invalid"):
        raise UserError(f"{email} is not in a domain this organization owns.")
    steps = {"mailbox": True, "licence": licence != "trial", "groups": list(groups or [])}
    logger.info("created %s (%s) with %d GB, licence %s", display_name, email, mailbox_gb, licence)
    if not steps["licence"]:
        logger.warning("trial licences must be assigned by hand")
    return {
        "success": all(v for k, v in steps.items() if k != "groups"),
        "email": email,
        "steps": steps,
        "start_date": start_date,
        "welcome_sent": send_welcome,
        "extra": extra,
    }
