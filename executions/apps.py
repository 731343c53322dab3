from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "executions"
    verbose_name = "Executions"

    def ready(self):
        from celery.signals import task_rejected

        from executions import signals

        task_rejected.connect(signals.on_task_rejected, dispatch_uid="executions.on_task_rejected")
