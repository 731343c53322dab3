"""Worker start: queue one discovery and start the workspace watcher (DESIGN §7).

Connected in `WorkflowsConfig.ready()`; `worker_ready` fires once in the main worker process, so
this runs once per worker, never in the web process.
"""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def on_worker_ready(sender=None, **kwargs):
    if getattr(settings, "DISCOVER_ON_WORKER_START", True):
        try:
            from workflows.tasks import discover_workflows_task

            discover_workflows_task.apply_async()
        except Exception:
            logger.warning("could not queue discovery at worker start", exc_info=True)
    if getattr(settings, "WORKSPACE_WATCH", False):
        from workflows.watcher import start_watcher

        start_watcher()
