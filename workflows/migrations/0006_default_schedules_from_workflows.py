"""Carry today's schedules over (DESIGN §15): every workflow with `@workflow(schedule=...)` gets its GLOBAL
default Schedule row (cron, time zone, overlap policy; paused if its beat entry `workflow:<name>` was paused),
and the ticks claimed so far point at it. The beat entries themselves stay: schedule_sync keeps them."""

from django.db import migrations


def forwards(apps, schema_editor):
    Workflow = apps.get_model("workflows", "Workflow")
    Schedule = apps.get_model("workflows", "Schedule")
    ScheduleTick = apps.get_model("workflows", "ScheduleTick")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    paused = set(
        PeriodicTask.objects.filter(name__startswith="workflow:", enabled=False).values_list("name", flat=True)
    )
    for workflow in Workflow.objects.exclude(schedule=""):
        schedule, _ = Schedule.objects.get_or_create(
            workflow=workflow,
            is_default=True,
            defaults={
                "target": "global",
                "cron": workflow.schedule,
                "timezone": workflow.schedule_timezone or "UTC",
                "overlap_policy": workflow.schedule_overlap,
                "enabled": f"workflow:{workflow.name}" not in paused,
            },
        )
        ScheduleTick.objects.filter(workflow_name=workflow.name, schedule__isnull=True).update(schedule=schedule)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_schedules_per_organization"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
