"""`manage.py run_workflow NAME [--param KEY=VALUE ...] [--params JSON] [--sync] [--org ID|NAME|DOMAIN]`.

Runs a workflow through the queue exactly like `POST /api/workflows/{name}/execute` (executions.services).
Prints the run's JSON (`execution_id`, `status`, `result`, ..., and `url`, its page); an async run also says
on stderr where to follow it. Every refusal (unknown workflow or organization, invalid parameters, broker
down) is one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import os
import uuid

from django.core.management.base import BaseCommand, CommandError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def flatten_detail(detail, path: str = "") -> list[str]:
    """DRF error detail (ErrorDetail strings, lists, {field: [...]} dicts) as plain `field: message` texts."""
    if isinstance(detail, dict):
        return [
            text
            for key, value in detail.items()
            for text in flatten_detail(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(detail, list | tuple):
        return [text for item in detail for text in flatten_detail(item, path)]
    return [f"{path}: {detail}" if path else str(detail)]


def api_error_line(exc) -> str:
    """One clean line for an APIException: `HTTP <status>: <message>[; field: message ...]`."""
    texts = flatten_detail(exc.detail)
    details = getattr(exc, "details", None)
    if details:
        texts += [text for text in flatten_detail(details) if text]
    return f"HTTP {exc.status_code}: " + "; ".join(" ".join(text.split()).rstrip(".") for text in texts) + "."


def resolve_organization(reference: str):
    """The active organization a `--org` names: its id, its name (case-insensitive) or its e-mail domain.

    Raises CommandError for no match, more than one, or a deactivated organization."""
    from django.db.models import Q

    from orgs.models import Organization

    reference = reference.strip()
    try:
        by_id = Organization.objects.filter(id=uuid.UUID(reference)).first()
    except ValueError:
        by_id = None
    if by_id is not None:
        matches = [by_id]
    else:
        domain = reference.lower().rstrip(".").removeprefix("@")
        query = Q(name__iexact=reference) | Q(domain=domain)
        matches = list(Organization.objects.filter(query).order_by("name", "id"))
    if not matches:
        raise CommandError(
            f"No organization has the id, name or domain {reference!r} (list them in /admin/orgs/organization/)."
        )
    if len(matches) > 1:
        candidates = ", ".join(f"{org.name} (id {org.id}, domain {org.domain or 'none'})" for org in matches)
        raise CommandError(f"{reference!r} matches {len(matches)} organizations: {candidates}. Pass the id instead.")
    if not matches[0].is_active:  # as the API's X-Organization-Id (bifrost_site/scope.py)
        raise CommandError(
            f"Organization {matches[0].name} (id {matches[0].id}) is deactivated; runs cannot start there."
        )
    return matches[0]


def parse_parameters(param: list[str], params: str | None) -> dict:
    parameters = {}
    if params:
        try:
            parameters = json.loads(params)
        except ValueError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(parameters, dict):
            raise CommandError('--params must be a JSON object, like \'{"display_name": "Ada"}\'.')
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param needs KEY=VALUE, got {item!r}.")
        parameters[key] = value
    return parameters


class Command(BaseCommand):
    help = "Run a workflow through the queue, like POST /api/workflows/{name}/execute."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
        parser.add_argument("--params", default=None, metavar="JSON", help="all parameters as one JSON object")
        parser.add_argument("--sync", action="store_true", help="wait for the result (up to the workflow timeout)")
        parser.add_argument(
            "--org", default=None, help="organization id, name or e-mail domain (default: GLOBAL)", metavar="ORG"
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help=f"where Bifrost is served, for the execution page's URL "
            f"(default: $BIFROST_BASE_URL, else {DEFAULT_BASE_URL})",
        )

    def handle(self, *args, name, param, params, sync, org, base_url, **options):
        from django.urls import reverse
        from rest_framework.exceptions import APIException

        from executions.models import Trigger
        from executions.presenters import execution_run_payload
        from executions.services import execution_await, execution_start

        parameters = parse_parameters(param, params)
        organization = resolve_organization(org) if org else None
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
            raise CommandError(api_error_line(exc)) from None

        class _Admin:
            is_platform_admin = True

        base = (base_url or os.environ.get("BIFROST_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        url = base + reverse("executions:detail", args=[execution.id])
        payload = execution_run_payload(execution, user=_Admin()) | {"url": url}
        self.stdout.write(json.dumps(payload, indent=2, default=str))
        if not execution.is_complete:
            self.stderr.write(f"Execution {execution.id} is {execution.status}; follow it at {url}")
