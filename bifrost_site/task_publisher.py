"""Publish one task's messages with the per-call work of `Task.apply_async` done once per process.

`apply_async` → `Celery.send_task` merges the task's execution options, routes the name through the
router, looks up the current worker task and wraps the result in an `AsyncResult` on every call: about
10% of the CPU of an execute request (docs/performance.md §10). `TaskPublisher` resolves the options and
the route once, then, per message, lets Celery build the message (`app.amqp.create_task_message`) and
send it (`app.amqp.send_task_message`: publish signals, retry policy, delivery mode, queue declaration)
on a producer from the app's pool; a queue kombu has declared on that connection already is not handed
to kombu to be declared again (`_declare`). The message is the one `apply_async` would send; a test
compares the two call for call, so a Celery upgrade that changes either side fails there first.

What it does not do: routes that depend on the arguments (this project routes by task name only),
links, chords, groups, a result (the task must have `ignore_result=True`), `task_inherit_parent_priority`,
and the native delayed delivery `send_task` uses for a countdown on quorum queues (these queues are
classic). The task's options, its route and the two settings it reads (`task_always_eager`,
`task_send_sent_event`) are taken at the first publish, as Celery itself takes most of its publishing
settings once. With `task_always_eager` it calls
`apply_async`, which runs the task in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from celery import Task

# popped by Celery.send_task before it builds the message: given as arguments instead
_MESSAGE_ARGUMENTS = ("time_limit", "soft_time_limit", "expires", "ignore_result")


@dataclass(frozen=True)
class _Resolved:
    task: Task
    always_eager: bool
    send_sent_event: bool
    message_defaults: dict  # the task's own time limits and expiry
    send_options: dict  # route and delivery options for send_task_message


class TaskPublisher:
    def __init__(self, task):
        self.task = task  # may be shared_task's lazy proxy: nothing is read from it before the first publish

    @cached_property
    def _resolved(self) -> _Resolved:
        task = self.task
        task = task._get_current_object() if hasattr(task, "_get_current_object") else task
        if not task.ignore_result:
            raise ValueError(f"{task.name}: TaskPublisher sends tasks that store no result (ignore_result=True)")
        options = {key: value for key, value in task._get_exec_options().items() if value is not None}
        message_defaults = {key: options.pop(key, None) for key in _MESSAGE_ARGUMENTS}
        return _Resolved(
            task=task,
            always_eager=bool(task.app.conf.task_always_eager),
            send_sent_event=bool(task.app.conf.task_send_sent_event),
            message_defaults=message_defaults,
            send_options=task.app.amqp.router.route(options, task.name, (), {}, task),
        )

    def publish(
        self,
        args: list,
        kwargs: dict | None,
        *,
        task_id: str,
        soft_time_limit: float | None = None,
        time_limit: float | None = None,
        countdown: float | None = None,
        retry: bool | None = None,
    ) -> None:
        resolved = self._resolved
        task = resolved.task
        app = task.app
        argsrepr, kwargsrepr = repr(args), repr(kwargs or {})  # given, Celery skips its own safe repr
        if resolved.always_eager:
            task.apply_async(
                args=args,
                kwargs=kwargs,
                argsrepr=argsrepr,
                kwargsrepr=kwargsrepr,
                task_id=task_id,
                soft_time_limit=soft_time_limit,
                time_limit=time_limit,
                countdown=countdown,
                retry=retry,
            )
            return
        parent = app.current_worker_task
        parent_id = root_id = None
        if parent:
            parent_id, root_id = parent.request.id, parent.request.root_id or parent.request.id
        amqp = app.amqp
        defaults = resolved.message_defaults
        message = amqp.create_task_message(
            task_id,
            task.name,
            args,
            kwargs,
            countdown,
            expires=defaults["expires"],
            time_limit=defaults["time_limit"] if time_limit is None else time_limit,
            soft_time_limit=defaults["soft_time_limit"] if soft_time_limit is None else soft_time_limit,
            reply_to=app.thread_oid,
            create_sent_event=resolved.send_sent_event,
            root_id=root_id,
            parent_id=parent_id,
            ignore_result=True,
            argsrepr=argsrepr,
            kwargsrepr=kwargsrepr,
        )
        with app.producer_pool.acquire(block=True) as producer, producer.connection._reraise_as_library_errors():
            options = resolved.send_options
            amqp.send_task_message(
                producer, task.name, message, retry=retry, declare=_declare(producer, options.get("queue")), **options
            )


def _declare(producer, queue) -> list | None:
    """[] when kombu has declared `queue` on this producer's connection already, else None (Celery declares it).

    kombu declares a queue once per connection and remembers it (`declared_entities`, emptied whenever
    it connects anew), but on every publish it first binds a copy of the queue and its exchange to the
    channel and wraps the check in its retry machinery: 6.8% of an execute request's instructions.
    Asking its memory here gives the same answer without that. One case differs: when kombu retries a
    publish after reconnecting, Celery's call would declare the queue on the new connection first and
    this one does not. That matters only if the broker came back without its durable queues, having lost
    every message queued in them: the retried message is lost with those, its row is failed by the
    cleanup task like theirs, and the workers declare the queues again when they reconnect."""
    if queue is None or not getattr(queue, "can_cache_declaration", False):
        return None
    return [] if hash(queue) in producer.connection.declared_entities else None
