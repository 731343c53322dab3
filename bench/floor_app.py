"""A bare Celery app with Celery's defaults on the same broker and result backend as Bifrost.

`bench/run.py` measures a no-op round trip and throughput on it as the floor: what Celery itself
costs on this machine, without Django or any Bifrost setting. Names carry BENCH_FLOOR_PREFIX so
concurrent runs never share a queue or a result key.
"""

import os

from celery import Celery

PREFIX = os.environ.get("BENCH_FLOOR_PREFIX", "bench-floor")

app = Celery(
    "floor_app",
    broker=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@localhost:5672//"),
    backend=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    set_as_current=False,  # the benchmark process also publishes Bifrost's shared tasks
)
app.conf.update(
    task_default_queue=f"{PREFIX}.q",
    task_default_exchange=f"{PREFIX}.q",
    task_default_routing_key=f"{PREFIX}.q",
    result_backend_transport_options={"global_keyprefix": f"{PREFIX}:"},
    result_expires=600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)


@app.task(name="floor.ping")
def ping(payload: str = "pong") -> dict:
    return {"payload": payload}
