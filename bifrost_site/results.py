"""Celery's Redis result backend, shared by the threads of a process and subscribing only to waits.

Two changes to `celery.backends.redis.RedisBackend`, both measured (docs/performance.md):

- `CELERY_RESULT_BACKEND_THREAD_SAFE = True` (settings) makes `app.backend` one object per process
  instead of one per thread. Under ASGI every request runs in a thread of its own, so each sync
  execute built a new backend, opened a new Redis connection and a new pub/sub subscription.
  Celery 5.7's Redis ResultConsumer serializes its pub/sub use (one thread reads the socket, the
  others wait for it), which is what makes sharing it safe.
- `on_task_call` does nothing. Celery subscribes to a task's result channel when the task is
  *sent*, in case someone waits. Execution runs store no Celery result at all (a sync caller pops
  the run's answer from a Redis list instead, executions/answers.py); for the other tasks whose
  result is awaited (data providers), waiting (`AsyncResult.get`) subscribes by itself and then
  reads the stored result once (`on_wait_for_pending`), so a result published before the
  subscription is not missed. It also means publishing never waits on Redis: with Redis down an
  execute still publishes (found by the fault scenarios, docs/faults.md).
"""

from celery.backends.redis import RedisBackend


class BifrostRedisBackend(RedisBackend):
    def on_task_call(self, producer, task_id):
        return None
