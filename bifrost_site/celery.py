"""The Celery application: RabbitMQ broker, Redis results, JSON only, DatabaseScheduler for beat.

Queues and routes come from settings (built by bifrost_site.queues); the worker declares the
dead-letter topology once it is set up.
"""

import os

from celery import Celery
from celery.signals import celeryd_after_setup, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bifrost_site.settings")

app = Celery("bifrost_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def _declare_dead_letter_topology(sender, instance, **kwargs):
    from bifrost_site import queues

    with instance.app.connection_for_write() as connection:
        queues.declare_topology(connection)


@worker_init.connect
def _install_pool_fixes(sender=None, **kwargs):
    from executions.engine.pool import install

    install()
