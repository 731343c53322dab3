#!/usr/bin/env python
"""Bifrost under failing services and load (issue 9, item 2).

    python bench/faults/run.py                       # every scenario, full size
    python bench/faults/run.py --quick               # smaller, about a third of the time
    python bench/faults/run.py --scenario rabbitmq   # one (or a comma-separated list)
    python bench/faults/run.py --keep                # keep the temp dir (logs) afterwards
    python bench/faults/run.py --scenario load --web daphne,split,proxy --load-seconds 30
                                                     # the load scenario on each web topology in turn

Each run starts PRIVATE PostgreSQL, Redis and RabbitMQ instances on free loopback ports under one
temp dir (never the shared services), migrates a fresh database, and starts its own daphne web
(or, with --web, granian + daphne, optionally behind Caddy) and Celery prefork workers against
them. Scenarios stop, kill and restart those private services
and processes. Each prints one PASS/FAIL line with its figures; the exit status is non-zero when
any scenario fails. Everything is torn down at exit (also on failure or Ctrl-C).
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ -> `import faults`

from faults import scenarios
from faults.services import PrivatePostgres, PrivateRabbit, PrivateRedis, cleanup_all
from faults.stack import Stack


def main(argv=None) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="all", help="comma-separated: " + ", ".join(scenarios.SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="smaller scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the service and process logs")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--web",
        default="daphne",
        help="web topology, comma-separated to run the scenarios on each: daphne (HTTP + WebSocket, make run), "
        "split (granian for HTTP + daphne for WebSockets), proxy (split behind Caddy, deploy/Caddyfile)",
    )
    parser.add_argument("--web-workers", type=int, default=1, help="granian worker processes (split, proxy)")
    parser.add_argument("--web-backlog", help="listen backlog of the web servers (default: docker/start-web.sh's)")
    parser.add_argument("--load-clients", type=int, help="load scenario: concurrent clients (default 200, quick 20)")
    parser.add_argument("--load-seconds", type=int, help="load scenario: duration (default 60, quick 15)")
    args = parser.parse_args(argv)
    webs = args.web.split(",")
    if any(web not in ("daphne", "split", "proxy") for web in webs):
        parser.error(f"unknown --web {args.web!r}")
    if "proxy" in webs and shutil.which("caddy") is None:
        parser.error("--web proxy needs caddy (bash scripts/system_packages.sh)")
    scenarios.LOAD_OPTIONS.update(clients=args.load_clients, seconds=args.load_seconds)
    names = list(scenarios.SCENARIOS) if args.scenario == "all" else args.scenario.split(",")
    unknown = [n for n in names if n not in scenarios.SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    run_id = uuid.uuid4().hex[:8]
    base = Path(tempfile.mkdtemp(prefix=f"bifrost-faults-{run_id}-"))
    base.chmod(0o755)  # the postgres OS user must reach its data dir
    atexit.register(cleanup_all)
    if not args.keep:
        atexit.register(shutil.rmtree, base, True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"faults run {run_id}: temp dir {base}")
    started = time.monotonic()
    pg = PrivatePostgres(base).init()
    pg.start()
    redis = PrivateRedis(base).start()
    rabbit = PrivateRabbit(base, run_id).start()
    print(f"  private services: postgres :{pg.port}, redis :{redis.port}, rabbitmq :{rabbit.port} ({rabbit.node})")
    stack = Stack(base, pg, redis, rabbit)
    stack.prepare()
    stack.setup_django()
    print(f"  ready in {time.monotonic() - started:.0f}s")

    results = []
    stack.web_workers = args.web_workers
    stack.web_backlog = args.web_backlog
    for web in webs:
        if web != stack.web_mode:
            stack.stop_web()
            stack.web_mode = web
        for name in names:
            label = name if len(webs) == 1 else f"{name}[{web}]"
            print(f"--- {label}")
            t0 = time.monotonic()
            result = scenarios.Result(label)
            try:
                scenarios.SCENARIOS[name](stack, args.quick, result)
            except Exception as exc:
                result.failures.append(f"crashed: {type(exc).__name__}: {exc}")
                traceback.print_exc()
            result.seconds = time.monotonic() - t0
            results.append(result)
            print(result.line(), flush=True)
    stack.stop_all()

    print("=== summary")
    for result in results:
        print(result.line().splitlines()[0])
    if args.keep:
        print(f"logs kept in {base}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "ok": r.ok,
                        "figures": r.figures,
                        "failures": r.failures,
                        "seconds": round(r.seconds),
                    }
                    for r in results
                ],
                indent=2,
                default=str,
            )  # fmt: skip
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
