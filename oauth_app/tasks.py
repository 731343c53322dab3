from celery import shared_task


@shared_task(name="oauth_app.refresh_expiring_tokens")
def refresh_expiring_tokens_task() -> dict:
    """Beat, every 15 minutes: refresh completed connections expiring within 30 minutes."""
    from oauth_app.services import refresh_expiring_tokens

    run = refresh_expiring_tokens()
    return {"run_id": str(run.id), "checked": run.checked, "refreshed": run.refreshed, "failed": run.failed}
