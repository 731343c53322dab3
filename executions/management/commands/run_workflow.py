import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a workflow through the queue, like POST /api/workflows/{name}/execute."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
        parser.add_argument("--sync", action="store_true", help="wait for the result (up to the workflow timeout)")
        parser.add_argument("--org", default=None, help="organization id (default: GLOBAL)")

    def handle(self, *args, name, param, sync, org, **options):
        from rest_framework.exceptions import APIException

        from executions.models import Trigger
        from executions.presenters import execution_run_payload
        from executions.services import execution_await, execution_start
        from orgs.models import Organization

        parameters = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param needs KEY=VALUE, got {item!r}")
            parameters[key] = value
        organization = None
        if org:
            organization = Organization.objects.filter(id=org).first()
            if organization is None:
                raise CommandError(f"Organization {org} does not exist.")
        try:
            started = execution_start(
                workflow_name=name,
                parameters=parameters,
                trigger=Trigger.MANUAL,
                organization=organization,
                executed_by_name="system:manage.py",
                mode="sync" if sync else None,
            )
            execution = execution_await(started)
        except APIException as exc:
            raise CommandError(f"{exc.status_code}: {exc.detail}") from None

        class _Admin:
            is_platform_admin = True

        self.stdout.write(json.dumps(execution_run_payload(execution, user=_Admin()), indent=2, default=str))
