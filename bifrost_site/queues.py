"""Queue topology: three work queues, each with its own dead-letter exchange and queue (DESIGN §1, §9).

Test runs put a prefix on every name (QUEUE_PREFIX) so concurrent runs on one broker never
share messages. Nothing here imports Django models: settings.py builds the Celery config from it.
"""

from kombu import Exchange, Queue

WORKFLOWS = "workflows"
WORKSPACE = "workspace"
DEFAULT = "default"
QUEUE_NAMES = (WORKFLOWS, WORKSPACE, DEFAULT)


def _prefix(prefix: str | None) -> str:
    if prefix is None:
        from django.conf import settings

        return settings.QUEUE_PREFIX
    return prefix


def queue_name(base: str, prefix: str | None = None) -> str:
    return f"{_prefix(prefix)}{base}"


def dead_letter_exchange_name(base: str, prefix: str | None = None) -> str:
    return f"{queue_name(base, prefix)}.dlx"


def dead_letter_name(base: str, prefix: str | None = None) -> str:
    return f"{queue_name(base, prefix)}.dead"


def work_queue(base: str, prefix: str | None = None) -> Queue:
    name = queue_name(base, prefix)
    return Queue(
        name,
        Exchange(name, type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments={
            "x-dead-letter-exchange": dead_letter_exchange_name(base, prefix),
            "x-dead-letter-routing-key": name,
        },
    )


def dead_letter_queue(base: str, prefix: str | None = None) -> Queue:
    return Queue(
        dead_letter_name(base, prefix),
        Exchange(dead_letter_exchange_name(base, prefix), type="direct", durable=True),
        routing_key=queue_name(base, prefix),
        durable=True,
    )


def work_queues(prefix: str | None = None) -> list[Queue]:
    return [work_queue(base, prefix) for base in QUEUE_NAMES]


def dead_letter_queues(prefix: str | None = None) -> list[Queue]:
    return [dead_letter_queue(base, prefix) for base in QUEUE_NAMES]


def task_routes(prefix: str) -> dict:
    return {
        "executions.*": {"queue": queue_name(WORKFLOWS, prefix)},
        "workflows.*": {"queue": queue_name(WORKSPACE, prefix)},
    }


def declare_topology(connection, prefix: str | None = None) -> None:
    """Declare every work queue with its dead-letter exchange and queue (idempotent)."""
    channel = connection.default_channel
    for queue in [*work_queues(prefix), *dead_letter_queues(prefix)]:
        queue(channel).declare()


def delete_topology(connection, prefix: str) -> None:
    """Remove a test run's queues and exchanges."""
    channel = connection.default_channel
    for base in QUEUE_NAMES:
        for name in (queue_name(base, prefix), dead_letter_name(base, prefix)):
            channel.queue_delete(name)
        for name in (queue_name(base, prefix), dead_letter_exchange_name(base, prefix)):
            channel.exchange_delete(name)
