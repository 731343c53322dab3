"""Watching WORKSPACE_PATH for changed workflow files and queueing discovery (debounced).

Runs as a daemon thread inside the worker's main process (started on `worker_ready` when
settings.WORKSPACE_WATCH is true), so `make run` needs no extra process.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 1.0
_lock = threading.Lock()
_observer: Observer | None = None


def _relevant(path: str, root: Path) -> bool:
    try:
        relative = Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
        return False
    return relative.suffix == ".py" or relative.name == "requirements.txt"


class DebouncedDiscovery(FileSystemEventHandler):
    """Collects a burst of changes and calls `trigger()` once, `delay` seconds after the last."""

    def __init__(self, root: Path, trigger, delay: float = DEBOUNCE_SECONDS) -> None:
        self.root = root.resolve()
        self.trigger = trigger
        self.delay = delay
        self._timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()

    def on_any_event(self, event) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [getattr(event, "src_path", ""), getattr(event, "dest_path", "")]
        if not any(p and _relevant(str(p), self.root) for p in paths):
            return
        with self._timer_lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        try:
            self.trigger()
        except Exception:
            logger.warning("workspace changed but discovery could not be queued", exc_info=True)


def _queue_discovery() -> None:
    from workflows.tasks import discover_workflows_task

    discover_workflows_task.apply_async()
    logger.info("workspace changed: discovery queued")


def start_watcher(path: Path | None = None, trigger=None, delay: float = DEBOUNCE_SECONDS) -> Observer | None:
    """Start watching (once per process). Returns the observer, or None if the path is missing."""
    global _observer
    root = Path(path or settings.WORKSPACE_PATH)
    with _lock:
        if _observer is not None and path is None:
            return _observer
        if not root.is_dir():
            logger.warning("workspace %s does not exist; not watching it", root)
            return None
        observer = Observer()
        observer.daemon = True
        observer.schedule(DebouncedDiscovery(root, trigger or _queue_discovery, delay), str(root), recursive=True)
        observer.start()
        if path is None:
            _observer = observer
        return observer
