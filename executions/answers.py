"""The one way a worker tells the web process the outcome of a task it waits for (DESIGN §9, §14).

Used by a sync execute, a sync form submit or startup, a webhook, and a data provider. The task
pushes its outcome to a Redis list named after its task id (RPUSH, then EXPIRE so that an answer
nobody pops goes away); the caller pops it with a blocking BLPOP and a timeout. An answer pushed
before the caller starts to wait is still there when it does, and each answer is read once.

Only awaited tasks push, and these tasks store no Celery result (`ignore_result=True`): an
execution's record is its database row. When Redis is unreachable both sides raise; the run task
logs it, and a sync execution's caller reads the row instead (executions.services.execution_await),
so a sync execute still answers. A data provider has no row: its caller answers 503.

Plain redis-py: one client per process, whose connection pool gives each waiting thread a connection
of its own for its blocking pop.
"""

from __future__ import annotations

import functools
import json

import redis
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from redis.backoff import NoBackoff
from redis.retry import Retry

# An answer nobody popped (the caller gave up or went away) is dropped after this long.
ANSWER_TTL_SECONDS = 600
# A blocking pop must outlive its own timeout on the socket.
SOCKET_MARGIN_SECONDS = 3


def answer_key(task_id: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:answer:{task_id}"


@functools.cache
def _client(url: str, socket_timeout: float) -> redis.Redis:
    # One immediate retry on a new connection (a socket left stale by a Redis restart), then the error:
    # redis-py's default backs off for seconds, and a caller whose Redis is down reads the row instead.
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 1)
    )


def client() -> redis.Redis:
    max_wait = max(settings.SYNC_ANSWER_POLL_SECONDS, settings.DATA_PROVIDER_TIMEOUT_SECONDS)
    return _client(settings.REDIS_RESULTS_URL, max_wait + SOCKET_MARGIN_SECONDS)


def push_answer(task_id: str, answer: dict) -> None:
    """Worker side: leave the task's answer for its caller. Raises when Redis is unreachable."""
    key = answer_key(task_id)
    with client().pipeline(transaction=False) as pipe:
        pipe.rpush(key, json.dumps(answer, cls=DjangoJSONEncoder))
        pipe.expire(key, ANSWER_TTL_SECONDS)
        pipe.execute()


def wait_answer(task_id: str, timeout: float) -> dict | None:
    """Caller side: the task's answer, or None after `timeout` seconds. Raises when Redis is unreachable."""
    popped = client().blpop([answer_key(task_id)], timeout=max(timeout, 0.01))
    if popped is None:
        return None
    return json.loads(popped[1])
