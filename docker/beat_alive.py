"""Healthcheck of the beat container or pod: exit 0 while a `celery ... beat` process runs, 1 otherwise.

Celery beat serves nothing to probe; if it dies, start-jobs.sh exits and the container restarts anyway, so this
only reports what the orchestrator should see. Used by deploy/compose.production.yml and deploy/kubernetes/base.
"""

import os
import sys


def argv(pid: str) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:  # the process ended while we looked
        return []


def beat_running() -> bool:
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if pid.isdigit() and pid != me:
            args = argv(pid)
            if b"beat" in args and any(arg.endswith(b"celery") for arg in args):
                return True
    return False


if __name__ == "__main__":
    sys.exit(0 if beat_running() else 1)
