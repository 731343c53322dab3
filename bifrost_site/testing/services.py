"""Per-run isolation on the real Redis and RabbitMQ, and a real embedded Celery worker."""

from contextlib import contextmanager

from django.conf import settings


def cleanup_redis_prefix() -> int:
    """Delete every key this test run wrote (all Bifrost db numbers), returning the count."""
    import redis

    removed = 0
    for url in (settings.REDIS_RESULTS_URL, settings.REDIS_CACHE_URL, settings.REDIS_CHANNELS_URL):
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            # cache keys are ":1:<prefix>..." style with KEY_PREFIX first: "<prefix>:1:key"
            for pattern in (f"{settings.REDIS_KEY_PREFIX}*", f"*{settings.REDIS_KEY_PREFIX}*"):
                batch = list(client.scan_iter(match=pattern, count=1000))
                if batch:
                    removed += client.delete(*batch)
        except redis.RedisError:
            pass
        finally:
            client.close()
    return removed


def cleanup_cache_keys() -> None:
    """Delete this run's Django cache keys (the cache's KEY_PREFIX is the run's prefix)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_CACHE_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


def cleanup_queues() -> None:
    from bifrost_site import queues
    from bifrost_site.celery import app

    if not settings.QUEUE_PREFIX:
        return
    try:
        with app.connection_for_write() as connection:
            queues.delete_topology(connection, settings.QUEUE_PREFIX)
    except Exception:
        pass


@contextmanager
def running_worker(*, queues_to_consume=None, concurrency: int = 2, pool: str = "threads"):
    """Start Celery's testing worker (a real consumer on the real broker) inside this process."""
    from celery.contrib.testing.worker import start_worker

    from bifrost_site import queues
    from bifrost_site.celery import app
    from bifrost_site.testing.engine import SessionWorkers

    if SessionWorkers.active is not None:  # one consumer per run's queues, or tasks land on the wrong worker
        SessionWorkers.active.stop()
    names = queues_to_consume or [queues.queue_name(q) for q in queues.QUEUE_NAMES]
    with app.connection_for_write() as connection:
        queues.declare_topology(connection)
    with start_worker(
        app,
        pool=pool,
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=names,
        loglevel="WARNING",
    ) as worker:
        yield worker
