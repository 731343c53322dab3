"""Celery's Redis result backend, made to fail fast and never block publishing (issue 9, faults).

Celery's `RedisBackend.on_task_call` subscribes to the task's result channel *before* the message
is published, retrying the Redis connection 20 times a second apart. With Redis down that turned
every execute into a 20-second wait followed by a 503 "RabbitMQ is unreachable" and a Failed row,
although the broker was fine. Redis only carries results here (the database is the source of
truth for executions), so:

- a failed subscription is logged and publishing goes on (a sync caller then waits on the
  database instead: `executions.services.execution_await`);
- Redis operations retry once, quickly (`CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["retry_policy"]`).
"""

from __future__ import annotations

import logging

from celery.backends.redis import RedisBackend

logger = logging.getLogger(__name__)


class ResilientRedisBackend(RedisBackend):
    def on_task_call(self, producer, task_id):
        try:
            super().on_task_call(producer, task_id)
        except Exception as exc:  # the result store must never stop a task from being published
            logger.warning("result backend unavailable, publishing %s without a result subscription: %s", task_id, exc)
