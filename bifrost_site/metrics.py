"""Metrics: Prometheus exposition at /metrics and a JSON summary for admins at /api/metrics.

Both read PostgreSQL only (grouped counts served by indexes); nothing is kept in process memory,
so every web process answers the same.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Avg, Count, Q
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from bifrost_site.api.viewsets import BifrostAPIView
from bifrost_site.health import run_checks

SERVICES = ("database", "broker", "redis")


class BifrostCollector:
    """Collected on every scrape: execution counts by status, registry and connection state, health."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from executions.models import Execution, ExecutionStatus
        from oauth_app.models import OAuthConnection
        from workflows.models import JobStatus, Workflow, WorkspaceJob

        executions = GaugeMetricFamily(
            "bifrost_executions", "Executions by status (all time, all organizations)", labels=["status"]
        )
        counts = dict(Execution.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in ExecutionStatus.values:
            executions.add_metric([status], counts.get(status, 0))
        yield executions

        from executions.admission import waiting_by_organization

        waiting = GaugeMetricFamily(
            "bifrost_executions_waiting",
            "Runs accepted and waiting for an admission slot (DESIGN §15), by organization and reason",
            labels=["organization", "reason"],
        )
        for organization, reasons in sorted(waiting_by_organization().items()):
            for reason, n in sorted(reasons.items()):
                waiting.add_metric([organization, reason], n)
        yield waiting

        workflows = GaugeMetricFamily("bifrost_workflows", "Registered workflows", labels=["available"])
        available = dict(Workflow.objects.order_by().values_list("is_available").annotate(n=Count("id")))
        workflows.add_metric(["true"], available.get(True, 0))
        workflows.add_metric(["false"], available.get(False, 0))
        yield workflows

        oauth = GaugeMetricFamily("bifrost_oauth_connections", "OAuth connections by status", labels=["status"])
        for status, n in OAuthConnection.objects.order_by().values_list("status").annotate(n=Count("id")):
            oauth.add_metric([status], n)
        yield oauth

        jobs = GaugeMetricFamily("bifrost_workspace_jobs", "Workspace jobs by status", labels=["status"])
        job_counts = dict(WorkspaceJob.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in JobStatus.values:
            jobs.add_metric([status], job_counts.get(status, 0))
        yield jobs

        _, checks = run_checks()
        up = GaugeMetricFamily("bifrost_service_up", "1 when the service answered the health check", labels=["service"])
        latency = GaugeMetricFamily("bifrost_service_latency_seconds", "Health check latency", labels=["service"])
        for name in SERVICES:
            up.add_metric([name], 1 if checks[name]["status"] == "up" else 0)
            latency.add_metric([name], checks[name]["latency_ms"] / 1000)
        yield up
        yield latency


def prometheus_metrics(request):
    """GET /metrics: Prometheus text format. Public by default; set METRICS_TOKEN to require
    `Authorization: Bearer <token>`."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        import hmac

        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return HttpResponse("metrics token required\n", status=401, content_type="text/plain")
    # prometheus_client is only needed when scraped: not loaded with the URLconf (docs/performance.md).
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(BifrostCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


RecentFailureSerializer = inline_serializer(
    "RecentFailure",
    many=True,
    fields={
        "id": serializers.UUIDField(),
        "workflow_name": serializers.CharField(),
        "status": serializers.CharField(),
        "error_type": serializers.CharField(),
        "organization_id": serializers.UUIDField(allow_null=True),
        "created_at": serializers.DateTimeField(),
    },
)
MetricsSerializer = inline_serializer(
    "ExecutionMetrics",
    {
        "window_days": serializers.IntegerField(),
        "since": serializers.DateTimeField(),
        "total": serializers.IntegerField(),
        "by_status": serializers.DictField(child=serializers.IntegerField()),
        "finished": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True),
        "average_duration_ms": serializers.FloatField(allow_null=True),
        "recent_failures": RecentFailureSerializer,
        "waiting": serializers.DictField(
            child=serializers.DictField(child=serializers.IntegerField()),
            help_text="Runs waiting for an admission slot now (any age), by organization id (or GLOBAL) and reason.",
        ),
    },
)

FAILED_STATUSES = ("Failed", "Timeout", "CompletedWithErrors")


class MetricsView(BifrostAPIView):
    """GET /api/metrics: execution figures for the caller's scope (platform admins)."""

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="Window in days (1-365, default 7).", required=False)],
        responses={200: MetricsSerializer},
        tags=["health"],
        summary="Execution counts, success rate, average duration and recent failures in scope",
    )
    def get(self, request):
        from executions.admission import waiting_by_organization
        from executions.models import FINISHED_STATUSES, Execution

        raw_days = request.query_params.get("days", "7")
        try:
            days = int(raw_days)
        except ValueError:
            raise exceptions.ValidationError({"days": ["Enter a whole number of days."]}) from None
        if not 1 <= days <= 365:
            raise exceptions.ValidationError({"days": ["Ensure this value is between 1 and 365."]})
        since = timezone.now() - datetime.timedelta(days=days)
        executions = Execution.objects.for_scope(request.scope).filter(created_at__gte=since)
        by_status = dict(executions.order_by().values_list("status").annotate(n=Count("id")))
        finished = sum(n for status, n in by_status.items() if status in FINISHED_STATUSES)
        succeeded = by_status.get("Success", 0)
        average = executions.filter(status__in=FINISHED_STATUSES, duration_ms__isnull=False).aggregate(
            avg=Avg("duration_ms")
        )["avg"]
        failures = (
            executions.filter(Q(status__in=FAILED_STATUSES))
            .order_by("-created_at", "-id")
            .values("id", "workflow_name", "status", "error_type", "organization_id", "created_at")[:10]
        )
        return Response(
            {
                "window_days": days,
                "since": since,
                "total": sum(by_status.values()),
                "by_status": by_status,
                "finished": finished,
                "success_rate": round(succeeded / finished, 4) if finished else None,
                "average_duration_ms": round(average, 1) if average is not None else None,
                "recent_failures": list(failures),
                "waiting": waiting_by_organization(Execution.objects.for_scope(request.scope)),
            }
        )
