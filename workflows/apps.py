from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self):
        from celery.signals import worker_ready

        from workflows import worker_hooks

        worker_ready.connect(worker_hooks.on_worker_ready, dispatch_uid="workflows.on_worker_ready")
