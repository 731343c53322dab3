"""A closed month's usage is stored once (UsageMonth) and reads the same as the live aggregate (docs/usage.md)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import Execution, UsageMonth
from executions.tests.test_usage import seed, world  # noqa: F401 (the fixture)
from executions.usage import CLOSED_AFTER, usage_for_month

pytestmark = pytest.mark.django_db

NOVEMBER_END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
OPEN = NOVEMBER_END + CLOSED_AFTER - dt.timedelta(seconds=1)  # November has ended, but not long enough
CLOSED = NOVEMBER_END + CLOSED_AFTER


def aggregated(queries) -> bool:
    return any("percentile_cont" in q["sql"] for q in queries)


def test_a_closed_month_is_stored_once_and_reads_the_same_as_live(world):  # noqa: F811
    live = usage_for_month(month="2026-11", now=OPEN)
    assert not UsageMonth.objects.exists()
    first = usage_for_month(month="2026-11", now=CLOSED)
    assert UsageMonth.objects.get().month == dt.date(2026, 11, 1)
    with CaptureQueriesContext(connection) as queries:
        stored = usage_for_month(month="2026-11", now=CLOSED)
    assert not aggregated(queries) and len(queries) == 4  # the row, names, workflows' minutes, approvals
    assert live == first == stored
    org, other_org = world
    only = usage_for_month(month="2026-11", organization_id=other_org.id, now=CLOSED)
    assert [row.organization_name for row in only] == ["Fabrikam"] and only[0].time_saved_minutes == 2 * 10


def test_the_stored_month_still_follows_time_saved_overrides_and_names(world):  # noqa: F811
    from workflows.models import Workflow

    org, _ = world
    usage_for_month(month="2026-11", now=CLOSED)
    Workflow.objects.filter(name="saver").update(time_saved_minutes_override=7)
    org.name = "Contoso Ltd"
    org.save(update_fields=["name"])
    rows = {row.organization_name: row for row in usage_for_month(month="2026-11", now=CLOSED)}
    assert rows["Contoso Ltd"].time_saved_minutes == 2 * 7


def test_a_closed_month_with_an_unfinished_run_stays_live_until_it_finishes(world):  # noqa: F811
    org, _ = world
    waiting = seed(org, "saver", "Scheduled", None, None)  # a deferred run created in November
    with CaptureQueriesContext(connection) as queries:
        rows = usage_for_month(month="2026-11", now=CLOSED)
    assert aggregated(queries) and not UsageMonth.objects.exists()
    assert {row.organization_name: row for row in rows}["Contoso"].runs["Scheduled"] == 1
    Execution.objects.filter(id=waiting.id).update(status="Success", duration_ms=10)
    rows = {row.organization_name: row for row in usage_for_month(month="2026-11", now=CLOSED)}
    assert UsageMonth.objects.exists()
    assert rows["Contoso"].runs["Success"] == 4 and rows["Contoso"].runs["Scheduled"] == 0


def test_the_current_month_is_never_stored(world):  # noqa: F811
    usage_for_month(month="2026-12", now=dt.datetime(2026, 12, 15, tzinfo=dt.UTC))
    assert not UsageMonth.objects.exists()
