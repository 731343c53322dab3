from celery import shared_task


@shared_task(name="bifrost_site.ping")
def ping_task(payload: str = "pong") -> dict:
    """A no-op round trip: used by health checks, tests and the raw-Celery benchmark baseline."""
    return {"payload": payload}
