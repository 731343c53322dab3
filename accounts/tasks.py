from celery import shared_task


@shared_task(name="accounts.prune_revoked_access_tokens")
def prune_revoked_access_tokens_task() -> int:
    """Forget revocations of access tokens that have expired anyway."""
    from accounts.services import revoked_access_tokens_prune

    return revoked_access_tokens_prune()
