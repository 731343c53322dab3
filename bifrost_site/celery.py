"""The Celery application: RabbitMQ broker, Redis results, JSON only, DatabaseScheduler for beat.

Queues and routes come from settings (built by bifrost_site.queues); the worker declares the
dead-letter topology once it is set up.
"""

import gc
import os

from celery import Celery
from celery.signals import celeryd_after_setup, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bifrost_site.settings")
# Celery's Django fixup runs Django's system checks when a worker starts and discards the result. The
# URL checks import the whole URLconf (every view, the admin, drf-spectacular): about 12 MB in the
# worker and each of its children, for nothing. `manage.py check` and the web start still run them.
# Set CELERY_SKIP_CHECKS= (empty) to run them anyway.
os.environ.setdefault("CELERY_SKIP_CHECKS", "true")

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


@worker_init.connect
def _freeze_imported_objects(sender=None, **kwargs):
    # The pool's children are forked from this process and share its memory copy-on-write. A garbage
    # collection (in the worker or a child) writes to every object it visits, which copies the page it
    # is on: an idle child's private memory was 45 MB instead of 15. Everything imported so far (Django,
    # the task modules) lives until the process ends, so the collector can leave it alone.
    gc.freeze()
