"""TaskPublisher sends the message Task.apply_async would send (bifrost_site/task_publisher.py).

Both paths are run with kombu's Producer.publish recorded instead of sent, and their calls compared
argument for argument: body, headers, properties, exchange, routing key, declared queues, serializer,
delivery mode and retry policy. The declaration of the queue, which kombu makes once per connection, is
checked on the real broker. A real broker round trip of the published run task is covered by the engine's
end-to-end tests (executions/tests/test_pipeline.py and the faults suite)."""

import uuid

import pytest
from celery._state import _task_stack
from kombu.messaging import Producer

from bifrost_site import task_publisher
from bifrost_site.celery import app
from bifrost_site.task_publisher import TaskPublisher
from bifrost_site.tasks import ping_task
from executions.tasks import publish_run, run_execution_task

# the only header that legitimately differs between two sends of one message: the time it was built
VOLATILE_HEADERS = ("eta",)
# apply_async also hands argsrepr/kwargsrepr to kombu as message properties, which AMQP has no field for
# (py-amqp sends only the properties of the protocol): the same values travel in the headers
NOT_ON_THE_WIRE = ("argsrepr", "kwargsrepr")


@pytest.fixture
def recorded(monkeypatch):
    calls = []
    # Both sides hand kombu the queue to declare, whatever this process's connections declared before:
    # skipping what kombu already declared is checked on the real broker below.
    monkeypatch.setattr(task_publisher, "_declare", lambda producer, queue: None)

    def record(producer, body, **kwargs):
        calls.append((body, kwargs))

    monkeypatch.setattr(Producer, "publish", record)
    return calls


def _comparable(call):
    body, kwargs = call
    headers = {key: value for key, value in kwargs["headers"].items() if key not in VOLATILE_HEADERS}
    for key in NOT_ON_THE_WIRE:
        assert kwargs.pop(key, kwargs["headers"][key]) == kwargs["headers"][key]
    return body, {**kwargs, "headers": headers, "declare": [queue.name for queue in kwargs["declare"]]}


def _both_ways(recorded, args, kwargs, **options):
    task_id = str(uuid.uuid4())
    argsrepr, kwargsrepr = repr(args), repr(kwargs or {})
    run_execution_task.apply_async(
        args=args, kwargs=kwargs, task_id=task_id, argsrepr=argsrepr, kwargsrepr=kwargsrepr, **options
    )
    TaskPublisher(run_execution_task).publish(args, kwargs, task_id=task_id, **options)
    assert len(recorded) == 2
    return recorded


@pytest.mark.parametrize("kwargs", [{"answer": True}, None])
def test_the_message_is_the_one_apply_async_sends(recorded, kwargs):
    args = [str(uuid.uuid4())]
    sent_by_celery, sent_by_publisher = _both_ways(
        recorded, args, kwargs, soft_time_limit=90, time_limit=120, retry=True
    )
    assert _comparable(sent_by_publisher) == _comparable(sent_by_celery)
    body, options = sent_by_publisher
    assert body[0] == args and body[1] == (kwargs or {})
    assert options["headers"]["task"] == "executions.run_execution"
    assert options["headers"]["timelimit"] == [120, 90]
    assert options["headers"]["ignore_result"] is True
    assert options["routing_key"] == app.conf.task_routes["executions.*"]["queue"]
    assert options["delivery_mode"] == 2 and options["retry"] is True  # persistent, retried on a lost connection


def test_a_countdown_becomes_the_same_eta(recorded):
    sent_by_celery, sent_by_publisher = _both_ways(recorded, ["x"], None, countdown=30, retry=True)
    assert _comparable(sent_by_publisher) == _comparable(sent_by_celery)
    eta_celery, eta_publisher = (call[1]["headers"]["eta"] for call in (sent_by_celery, sent_by_publisher))
    assert eta_celery is not None and eta_publisher is not None
    assert abs((_iso(eta_publisher) - _iso(eta_celery)).total_seconds()) < 5


def test_inside_a_running_task_the_message_names_its_parent_and_root(recorded):
    parent = ping_task
    parent.push_request(id="parent-id", root_id="root-id", called_directly=False)
    _task_stack.push(parent)
    try:
        sent_by_celery, sent_by_publisher = _both_ways(recorded, ["x"], None, countdown=1)
    finally:
        _task_stack.pop()
        parent.pop_request()
    assert _comparable(sent_by_publisher) == _comparable(sent_by_celery)
    assert sent_by_publisher[1]["headers"]["parent_id"] == "parent-id"
    assert sent_by_publisher[1]["headers"]["root_id"] == "root-id"


def test_publish_run_goes_through_the_publisher(recorded):
    execution_id = uuid.uuid4()
    publish_run(execution_id, task_id="t-1", timeout_seconds=30, awaited=False)
    publish_run(execution_id, task_id="t-2", timeout_seconds=30, awaited=True)
    assert [call[0][:2] for call in recorded] == [([str(execution_id)], {}), ([str(execution_id)], {"answer": True})]
    assert [call[1]["headers"]["id"] for call in recorded] == ["t-1", "t-2"]


def test_a_task_that_stores_results_is_refused(recorded):
    with pytest.raises(ValueError, match="ignore_result"):
        TaskPublisher(ping_task).publish([], None, task_id="t")
    assert recorded == []


def test_eager_mode_runs_the_task_through_apply_async(monkeypatch):
    ran = []
    monkeypatch.setattr(run_execution_task, "apply_async", lambda **options: ran.append(options))
    saved, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        TaskPublisher(run_execution_task).publish(["x"], None, task_id="t-eager", time_limit=5)
    finally:
        app.conf.task_always_eager = saved
    assert ran and ran[0]["task_id"] == "t-eager" and ran[0]["time_limit"] == 5


def _iso(value):
    import datetime

    return datetime.datetime.fromisoformat(value)


@pytest.fixture
def probe_task(settings):
    """A task on a queue of its own on the real broker, declared by nobody but its publishers."""
    name = f"{settings.QUEUE_PREFIX}publisher-probe-{uuid.uuid4().hex[:8]}"

    def probe():
        pass

    task = app.task(name=f"tests.{name}", ignore_result=True, queue=name, shared=False)(probe)
    yield task, name
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_delete(name)
        channel.exchange_delete(name)


def _waiting(name: str) -> int | None:
    """Messages in queue `name` on the broker, or None when there is no such queue."""
    from amqp.exceptions import NotFound

    with app.connection_for_write() as connection:
        try:
            return connection.default_channel.queue_declare(queue=name, passive=True).message_count
        except NotFound:
            return None


def test_a_queue_is_declared_once_per_connection_and_again_on_a_new_one(probe_task, monkeypatch):
    task, name = probe_task
    declared = []
    real = Producer.maybe_declare
    monkeypatch.setattr(
        Producer, "maybe_declare", lambda self, entity, **kw: declared.append(entity.name) or real(self, entity, **kw)
    )
    publisher = TaskPublisher(task)
    publisher.publish([], None, task_id="first")
    assert declared == [name] and _waiting(name) == 1  # the first publish on the connection declares it
    publisher.publish([], None, task_id="second")
    assert declared == [name] and _waiting(name) == 2  # kombu remembers it for the connection: no declaring
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(name)  # as kombu would, the kept connection does not notice
    with app.producer_pool.acquire(block=True) as producer:  # the pool hands the same producer back
        producer.connection.declared_entities.clear()  # what kombu does whenever it connects anew
    publisher.publish([], None, task_id="third")
    assert declared == [name, name] and _waiting(name) == 1  # declared anew on it, and the message is there
