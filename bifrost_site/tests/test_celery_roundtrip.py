"""A real task through a real worker on the real RabbitMQ, with the result in the real Redis."""

import pytest
from celery.backends.redis import RedisBackend
from django.conf import settings

from bifrost_site.tasks import ping_task
from bifrost_site.testing.services import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_task_round_trips_through_worker_and_redis_results():
    assert settings.QUEUE_PREFIX, "tests must run on their own queue names"
    with running_worker():
        result = ping_task.delay("hello")
        assert result.get(timeout=20) == {"payload": "hello"}
    assert isinstance(result.backend, RedisBackend)


def test_queues_are_declared_with_dead_letter_exchanges():
    from bifrost_site import queues
    from bifrost_site.celery import app

    with running_worker():
        pass
    with app.connection_for_write() as connection:
        channel = connection.channel()
        for base in queues.QUEUE_NAMES:
            # passive declare raises if the queue does not exist
            name, _, _ = channel.queue_declare(queues.queue_name(base), passive=True)
            assert name == queues.queue_name(base)
            channel.queue_declare(queues.dead_letter_name(base), passive=True)
        channel.close()


def test_rejected_message_lands_in_dead_letter_queue():
    """A message rejected without requeue is routed by the dead-letter exchange to `<queue>.dead`.

    The probe queue carries the same dead-letter arguments as the `default` work queue but has no
    consumer, so a worker running elsewhere in the session cannot take the message first.
    """
    from kombu import Exchange, Producer, Queue

    from bifrost_site import queues
    from bifrost_site.celery import app

    default = queues.work_queue(queues.DEFAULT)
    probe = Queue(
        f"{queues.queue_name('dlx-probe')}",
        Exchange(f"{queues.queue_name('dlx-probe')}", type="direct", durable=False),
        routing_key="probe",
        durable=False,
        auto_delete=False,
        queue_arguments=dict(default.queue_arguments),
    )
    with app.connection_for_write() as connection:
        queues.declare_topology(connection)
        channel = connection.channel()
        bound = probe(channel)
        bound.declare()
        try:
            channel.queue_purge(queues.dead_letter_name(queues.DEFAULT))
            Producer(channel).publish({"poison": True}, exchange=probe.exchange, routing_key="probe", serializer="json")
            message = None
            for _ in range(50):
                message = channel.basic_get(probe.name, no_ack=False)
                if message:
                    break
            assert message is not None
            channel.basic_reject(message.delivery_tag, requeue=False)
            dead = None
            for _ in range(50):
                dead = channel.basic_get(queues.dead_letter_name(queues.DEFAULT), no_ack=True)
                if dead:
                    break
            assert dead is not None
            assert dead.headers["x-death"][0]["queue"] == probe.name
        finally:
            bound.delete()
            probe.exchange(channel).delete()
            channel.close()
