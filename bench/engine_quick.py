"""Quick engine figures (issue 4): sync execute round trip and one execution logging 10,000 lines.

Needs a running worker on the same settings (e.g. `make run`, or
`celery -A bifrost_site worker -Q workflows,workspace,default -c 2`) and the example workspace
discovered (`manage.py discover_workflows`). Run: `python bench/engine_quick.py [--n 200] [--lines 10000]`.

The sync figure goes through the service layer (execution_start + execution_await) in this
process: it is the queue + worker + result round trip without the HTTP/ASGI layer.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bifrost_site.settings")

import django

django.setup()

from channels.layers import get_channel_layer  # noqa: E402

from executions.events import execution_group  # noqa: E402
from executions.models import ExecutionLog  # noqa: E402
from executions.services import execution_await, execution_start  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def sync_round_trips(n: int) -> None:
    timings = []
    for _ in range(n + 5):
        began = time.perf_counter()
        started = execution_start(workflow_name="hello_world", parameters={"name": "bench"}, trigger="manual")
        execution = execution_await(started)
        assert execution.status == "Success", execution.status
        timings.append((time.perf_counter() - began) * 1000)
    timings = timings[5:]
    print(
        f"sync hello_world round trip (service layer), n={n}: p50 {statistics.median(timings):.1f} ms, "
        f"p99 {pct(timings, 99):.1f} ms"
    )


async def _receive_lines(channel_layer, channel, expected, seen):
    while len(seen) < expected:
        message = await channel_layer.receive(channel)
        if message.get("type") == "execution.logs":
            for line in message["lines"]:
                seen.add(line["sequence"])


def log_lines(lines: int) -> None:
    layer = get_channel_layer()
    started = execution_start(workflow_name="log_burst", parameters={"lines": lines}, trigger="manual", mode="sync")
    execution_id = started.execution.id

    async def run():
        channel = await layer.new_channel()
        await layer.group_add(execution_group(execution_id), channel)
        seen: set[int] = set()
        began = time.perf_counter()
        # the run task is published on commit (already done); wait for every line over the channel layer
        await asyncio.wait_for(_receive_lines(layer, channel, lines, seen), timeout=60)
        return time.perf_counter() - began, seen

    # subscribe before the worker starts emitting: the task was published already, so measure from now
    elapsed, seen = asyncio.run(run())
    execution = execution_await(started)
    stored = ExecutionLog.objects.filter(execution_id=execution_id).count()
    gap_free = sorted(seen) == list(range(1, lines + 1))
    print(
        f"{lines} log lines: all {len(seen)} delivered over the channel layer in {elapsed:.2f} s "
        f"(run {execution.duration_ms} ms in the worker), {stored} stored, gap-free={gap_free}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10000)
    args = parser.parse_args()
    sync_round_trips(args.n)
    log_lines(args.lines)
