"""Workflows of the approvals end-to-end tests (approvals/tests/test_approvals_e2e.py)."""

from bifrost import param, workflow, workflows


@workflow(
    name="t_needs_approval",
    execution_mode="async",
    timeout_seconds=30,
    approval={"approver_roles": ["Change approvers"], "timeout_hours": 2},
)
@param("mailbox", type="string", required=True)
@param("reason", type="string", default_value="")
def t_needs_approval(mailbox, reason=""):
    return {"disabled": mailbox, "reason": reason}


@workflow(name="t_stage_risky_step", execution_mode="async", timeout_seconds=30)
@param("mailbox", type="string", required=True)
def t_stage_risky_step(mailbox):
    """Prepares, then puts the risky step behind a person: the child waits for approval, this run ends."""
    child = workflows.start("t_needs_approval", {"mailbox": mailbox, "reason": "offboarding"})
    return {"child_execution_id": child}
