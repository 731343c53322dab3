"""Reads for the admin dashboard (DESIGN §18, issue 21 item 2): what needs an MSP admin's eye now.

Three sources, each bounded so the index answers within a second when one is down:
- the database: runs in progress, waiting, awaiting approval, failed in the last 24 h; OAuth connections
  failing or expiring; the next schedule runs;
- the broker (RabbitMQ): the depth of each work queue and its dead-letter queue, by a passive
  `queue_declare` on one connection made with short timeouts and no retries;
- Celery's remote control: the workers that answer a ping within half a second, on that connection.

Each source is cached (Django's cache, CACHE_SECONDS) so a busy index costs one read per interval; when
the cache itself is down the figures are read directly. Every figure carries the admin URL of the
filtered list it counts.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from bifrost_site import queues

logger = logging.getLogger(__name__)

CACHE_SECONDS = 10
DATABASE_CACHE_KEY = "admin-dashboard:database"
BROKER_CACHE_KEY = "admin-dashboard:broker"
# The broker read: one TCP connect and a few passive declares, then a ping answered within PING_SECONDS.
BROKER_CONNECT_SECONDS = 0.5
BROKER_IO_SECONDS = 0.5
PING_SECONDS = 0.5
FAILURE_WINDOW = dt.timedelta(hours=24)
# A token that expires within this window (or has expired) is "expiring".
EXPIRY_WINDOW = dt.timedelta(hours=24)
FAILED_STATUSES = ("Failed", "Timeout")
NEXT_SCHEDULE_RUNS = 5
SCHEDULES_READ = 200  # the enabled schedules looked at, soonest `next_run_at` first


@dataclass
class Figure:
    label: str
    value: int | None
    url: str
    attention: bool = False  # non-zero and worth a look (failures, dead letters, broken connections)


@dataclass
class QueueDepth:
    name: str  # the base name: workflows, workspace, default
    ready: int | None
    consumers: int | None
    dead: int | None


@dataclass
class BrokerStatus:
    reachable: bool
    error: str = ""
    queues: list[QueueDepth] = field(default_factory=list)
    workers: list[str] | None = None  # None: not asked (the broker is down)


@dataclass
class ScheduledRun:
    workflow_name: str
    organization: str  # "" for a GLOBAL schedule
    target: str
    when: dt.datetime
    timezone: str
    url: str


def _changelist(model: str, **params) -> str:
    url = reverse(f"admin:{model}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _cached(key: str, read):
    try:
        value = cache.get(key)
    except Exception:  # the cache (Redis) is down: read directly
        logger.warning("dashboard cache unavailable", exc_info=True)
        return read()
    if value is None:
        value = read()
        try:
            cache.set(key, value, CACHE_SECONDS)
        except Exception:
            logger.warning("dashboard cache unavailable", exc_info=True)
    return value


# --- the database -----------------------------------------------------------------------------------


def execution_figures(*, now: dt.datetime | None = None) -> list[Figure]:
    from django.db.models import Count, Q

    from executions.models import Execution

    now = now or timezone.now()
    since = now - FAILURE_WINDOW
    counts = Execution.objects.aggregate(
        running=Count("id", filter=Q(status__in=["Running", "Cancelling"])),
        queued=Count("id", filter=Q(status="Pending", waiting_reason="")),
        waiting=Count("id", filter=Q(status="Pending") & ~Q(waiting_reason="")),
        awaiting=Count("id", filter=Q(status="AwaitingApproval")),
        failed=Count("id", filter=Q(status__in=FAILED_STATUSES, created_at__gte=since)),
    )
    model = "executions_execution"
    return [
        Figure("Running", counts["running"], _changelist(model, status__in="Running,Cancelling")),
        Figure(
            "Queued (admitted, not started)",
            counts["queued"],
            _changelist(model, status__exact="Pending", waiting_reason__exact=""),
        ),
        Figure(
            "Waiting (over a concurrency limit)",
            counts["waiting"],
            _changelist(model, status__exact="Pending", waiting_reason__gt=""),
        ),
        Figure("Awaiting approval", counts["awaiting"], _changelist(model, status__exact="AwaitingApproval")),
        Figure(
            "Failed in the last 24 h",
            counts["failed"],
            _changelist(model, status__in=",".join(FAILED_STATUSES), created_at__gte=since.isoformat()),
            attention=counts["failed"] > 0,
        ),
    ]


def oauth_figures(*, now: dt.datetime | None = None) -> list[Figure]:
    from django.db.models import Count, Q

    from oauth_app.models import OAuthConnection

    now = now or timezone.now()
    counts = OAuthConnection.objects.aggregate(
        failed=Count("id", filter=Q(status="failed")),
        expiring=Count("id", filter=Q(token__expires_at__lt=now + EXPIRY_WINDOW) & ~Q(status="failed")),
    )
    model = "oauth_app_oauthconnection"
    return [
        Figure("Failing", counts["failed"], _changelist(model, status__exact="failed"), attention=counts["failed"] > 0),
        Figure(
            "Token expired or expiring within 24 h",
            counts["expiring"],
            _changelist(model, expiry="soon"),
            attention=counts["expiring"] > 0,
        ),
    ]


def next_schedule_runs(*, now: dt.datetime | None = None, count: int = NEXT_SCHEDULE_RUNS) -> list[ScheduledRun]:
    """The next runs of the enabled schedules of available workflows, soonest first: a schedule's
    `next_run_at` when beat has set it, else the next time its cron names. Each links to its workflow's
    admin page, where the schedules are edited."""
    import zoneinfo

    from croniter import croniter

    from workflows.models import Schedule

    now = now or timezone.now()
    rows = (
        Schedule.objects.filter(enabled=True, workflow__is_available=True)
        .select_related("workflow", "organization")
        .order_by(F("next_run_at").asc(nulls_last=True))[:SCHEDULES_READ]
    )
    upcoming = []
    for row in rows:
        when = row.next_run_at
        if when is None or when < now:
            try:
                local_now = now.astimezone(zoneinfo.ZoneInfo(row.timezone or "UTC"))
                when = croniter(row.cron, local_now).get_next(dt.datetime)
            except Exception as exc:  # an invalid expression or zone shows on the workflow's page, not here
                logger.info("dashboard: no next run for schedule %s: %s", row.pk, exc)
                continue
        upcoming.append(
            ScheduledRun(
                workflow_name=row.workflow.name,
                organization=row.organization.name if row.organization_id else "",
                target=row.get_target_display(),
                when=when,
                timezone=row.timezone,
                url=reverse("admin:workflows_workflow_change", args=[row.workflow_id]),
            )
        )
    return sorted(upcoming, key=lambda run: run.when)[:count]


def database_snapshot() -> dict:
    now = timezone.now()
    return {
        "executions": [asdict(f) for f in execution_figures(now=now)],
        "oauth": [asdict(f) for f in oauth_figures(now=now)],
        "schedules": [asdict(r) for r in next_schedule_runs(now=now)],
    }


# --- the broker and the workers ------------------------------------------------------------------


def broker_url() -> str | None:
    """The broker the dashboard reads: DASHBOARD_BROKER_URL when set (tests point it at a closed port),
    else the Celery app's."""
    return getattr(settings, "DASHBOARD_BROKER_URL", None) or None


def _depth(connection, name: str) -> tuple[int | None, int | None]:
    """(messages ready, consumers) of a queue by a passive declare; (None, None) when it does not exist
    (a refused passive declare closes its channel, so each queue gets its own)."""
    channel = connection.channel()
    try:
        _name, ready, consumers = channel.queue_declare(queue=name, passive=True)
        return ready, consumers
    except connection.channel_errors:
        return None, None
    finally:
        try:
            channel.close()
        except Exception:  # already closed by the broker's refusal
            logger.debug("channel already closed", exc_info=True)


def broker_status() -> BrokerStatus:
    from bifrost_site.celery import app

    connection = app.connection_for_read(
        broker_url(),
        connect_timeout=BROKER_CONNECT_SECONDS,
        transport_options={"read_timeout": BROKER_IO_SECONDS, "write_timeout": BROKER_IO_SECONDS},
    )
    try:
        connection.ensure_connection(max_retries=0, timeout=BROKER_CONNECT_SECONDS)
        depths = []
        for base in queues.QUEUE_NAMES:
            ready, consumers = _depth(connection, queues.queue_name(base))
            dead, _ = _depth(connection, queues.dead_letter_name(base))
            depths.append(QueueDepth(name=base, ready=ready, consumers=consumers, dead=dead))
        try:
            replies = app.control.ping(timeout=PING_SECONDS, connection=connection)
            workers = sorted(name for reply in replies or [] for name in reply)
        except Exception as exc:
            logger.warning("dashboard: worker ping failed: %s", exc)
            workers = None
        return BrokerStatus(reachable=True, queues=depths, workers=workers)
    except Exception as exc:
        logger.warning("dashboard: broker unreachable: %s", exc)
        return BrokerStatus(reachable=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.release()


def queue_list_url(base: str) -> str:
    """The list of what waits in a work queue: admitted runs (workflows), workspace jobs (workspace)."""
    if base == queues.WORKFLOWS:
        return _changelist("executions_execution", status__exact="Pending")
    if base == queues.WORKSPACE:
        return _changelist("workflows_workspacejob", status__exact="pending")
    return ""


def broker_snapshot() -> dict:
    snapshot = asdict(broker_status())
    for depth in snapshot["queues"]:
        depth["url"] = queue_list_url(depth["name"])
    return snapshot


def dashboard() -> dict:
    """Everything the admin index shows, each source cached for CACHE_SECONDS."""
    data = dict(_cached(DATABASE_CACHE_KEY, database_snapshot))
    data["broker"] = _cached(BROKER_CACHE_KEY, broker_snapshot)
    data["cache_seconds"] = CACHE_SECONDS
    return data
