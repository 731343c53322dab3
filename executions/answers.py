"""How a sync caller gets a run's answer: the run task pushes it to a Redis list, the caller pops it.

DESIGN §9 has a sync execute wait on the Redis result. Celery's Redis result backend does that
with a pub/sub subscription per wait: SUBSCRIBE, a GET for a result stored before the
subscription, the message, UNSUBSCRIBE, and subscriber state that the threads of a process share
under a lock. A list per awaited run needs one blocking BLPOP on the caller's side and one
pipelined RPUSH + EXPIRE on the worker's side; an answer pushed before the caller starts to wait
is still there when it does. Only awaited runs push (the run task's `answer` argument), and the
run task stores no Celery result: the database row is the record (docs/executions.md).
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from bifrost_site.redis_direct import PerThread

# An answer nobody popped (the caller gave up or went away) is dropped after this long.
ANSWER_TTL_SECONDS = 600
# A blocking pop must outlive its own timeout on the socket.
SOCKET_MARGIN_SECONDS = 3


def answer_key(task_id: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:answer:{task_id}"


def _connection():
    url, socket_timeout = settings.REDIS_RESULTS_URL, settings.SYNC_ANSWER_POLL_SECONDS + SOCKET_MARGIN_SECONDS
    return _connections(url, socket_timeout).get()


@functools.cache
def _connections(url: str, socket_timeout: float) -> PerThread:
    # A connection per thread: a caller's blocking pop holds its connection until the answer comes.
    return PerThread(url, socket_connect_timeout=2, socket_timeout=socket_timeout)


def push_answer(task_id: str, answer: dict) -> None:
    """Worker side: leave the run's answer for its caller. Raises when Redis is unreachable."""
    key = answer_key(task_id)
    payload = json.dumps(answer, cls=DjangoJSONEncoder)
    _connection().round_trip([("RPUSH", key, payload), ("EXPIRE", key, ANSWER_TTL_SECONDS)])


def wait_answer(task_id: str, timeout: float) -> dict | None:
    """Caller side: the run's answer, or None after `timeout` seconds. Raises when Redis is unreachable."""
    (popped,) = _connection().round_trip([("BLPOP", answer_key(task_id), max(timeout, 0.001))])
    if popped is None:
        return None
    return json.loads(popped[1])
