"""Signal handlers of the executions app, connected in `ExecutionsConfig.ready()`.

Kept light: the web process imports this module too, so the worker machinery (the poison-message
code subclasses Celery's worker consumer) is imported only when a handler runs, which is in a worker.
"""


def on_task_rejected(sender=None, message=None, exc=None, **kwargs):
    """Celery rejected a task message (unknown task, invalid body): mark the execution it names (DESIGN §9)."""
    if message is not None:
        from executions.engine.poison import mark_poisoned

        mark_poisoned(message, f"invalid task message ({exc})" if exc else "unknown message format")
