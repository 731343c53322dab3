import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Import the workspace now (in this process) and update the workflow registry."

    def handle(self, *args, **options):
        from workflows.services import discovery_run

        report = discovery_run(reason="manage.py discover_workflows")
        self.stdout.write(json.dumps(report, indent=2, default=str))
        if report["errors"]:
            self.stderr.write(self.style.WARNING(f"{len(report['errors'])} file(s) failed to import"))
