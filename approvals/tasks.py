from celery import shared_task


@shared_task(name="approvals.expire_approvals", ignore_result=True)
def expire_approvals_task() -> int:
    """Beat, every minute: pending approvals past `expires_at` → expired, their runs → `Expired`."""
    from approvals.services import approvals_expire_due

    return approvals_expire_due()
