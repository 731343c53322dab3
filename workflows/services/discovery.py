"""Importing workspace code (DESIGN §7). Runs in worker processes only, never in the web process.

`scan()` imports every workflow file under WORKSPACE_PATH inside `bifrost.registry.capture()`
and reports, per file, the workflows and data providers it defines or why it failed to import.
`load_module()` / `load_specs()` are what the engine uses to run code: a module is imported fresh
whenever its file's content differs from what this process loaded last (see `_loaded_file`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import stat
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from django.conf import settings

from bifrost import registry
from executions.engine.import_guard import install_import_guard, installed_import_guard

logger = logging.getLogger(__name__)

PACKAGES_DIR = ".packages"
SKIPPED_DIRS = {"__pycache__", "tests", "node_modules", "venv"}
MAX_ERROR_CHARS = 4000
RACY_SECONDS = 2

_import_lock = threading.RLock()


@dataclass
class _LoadedFile:
    """A workspace file as this process last imported it."""

    digest: str  # sha256 of the source
    module: ModuleType
    stat: tuple | None = None  # (inode, size, mtime_ns) when the digest was last confirmed
    specs: tuple | None = None  # registry.collect(module), computed on first use
    source: str = ""  # the file's text as hashed (a WorkflowVersion's source, DESIGN §20)


_module_cache: dict[str, _LoadedFile] = {}  # absolute path -> what was imported from it
# the workspace path as a run names it -> (trusted signature, _module_cache key) it was last confirmed with
_confirmed_paths: dict[str, tuple[tuple, str]] = {}


def workspace_path() -> Path:
    return Path(settings.WORKSPACE_PATH)


def ensure_import_path(workspace: Path | None = None) -> None:
    """Put the workspace and its `.packages` on the import path, behind the import guard that keeps
    workflow code away from the project's internals (a guard, not a sandbox: docs/security.md)."""
    workspace = workspace or workspace_path()
    if getattr(settings, "WORKFLOW_IMPORT_GUARD", True):
        current = installed_import_guard()
        if current is None or current.workspace != os.path.realpath(workspace):
            install_import_guard(workspace)
    for entry in (workspace / PACKAGES_DIR, workspace):
        text = str(entry)
        if text not in sys.path:
            sys.path.insert(0, text)


def is_workflow_file(relative: Path) -> bool:
    parts = relative.parts
    if any(part.startswith(".") or part in SKIPPED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    return (
        name.endswith(".py")
        and not name.startswith((".", "test_"))
        and not name.endswith("_test.py")
        and name not in ("conftest.py", "setup.py")
    )


def iter_files(workspace: Path | None = None) -> list[Path]:
    """Relative paths of every workflow file, sorted (the order duplicates are judged in)."""
    workspace = workspace or workspace_path()
    if not workspace.is_dir():
        return []
    found = []
    for path in workspace.rglob("*.py"):
        relative = path.relative_to(workspace)
        if is_workflow_file(relative):
            found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def read_source(path: Path) -> tuple[str, str]:
    """(SHA-256 hex of the file's bytes, its text) from one read."""
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), data.decode("utf-8", errors="replace")


def module_name_for(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "workspace_root"


def error_summary(exc: BaseException) -> str:
    """The exception and the innermost frames (those in workspace code matter most)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4)).strip()
    if len(text) > MAX_ERROR_CHARS:
        text = "…" + text[-(MAX_ERROR_CHARS - 1) :]
    return text


def import_file(relative: Path, workspace: Path | None = None) -> ModuleType:
    """Import `relative` fresh under its dotted name (replacing any earlier version)."""
    workspace = workspace or workspace_path()
    ensure_import_path(workspace)
    path = workspace / relative
    name = module_name_for(relative)
    with _import_lock:
        if "." in name:  # make the parent package importable first (regular or namespace package)
            try:
                importlib.import_module(name.rsplit(".", 1)[0])
            except ImportError:
                pass
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {relative}")
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        registry.remove_module(name)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if previous is not None:
                sys.modules[name] = previous
            else:
                sys.modules.pop(name, None)
            raise
        logging.getLogger(name).setLevel(logging.DEBUG)  # workflow DEBUG lines reach the execution log
        return module


def _loaded_file(relative_path: str) -> _LoadedFile:
    """The import of a workspace file, redone when the file's content changed since this process loaded it.

    Each run checks the file: an unchanged inode, size and modification time (nanoseconds) mean an
    unchanged file, as for Python's own bytecode cache; otherwise the content hash decides. As in
    git's "racily clean" rule, a signature is only trusted when the file was already older than
    RACY_SECONDS when it was confirmed: file times tick in coarse steps, so a same-size rewrite in
    the same step as the confirmation would otherwise go unseen.

    A path confirmed that way costs the next run one stat() of the path as named: the full check
    (resolve the path, refuse one outside the workspace) runs again whenever that stat differs, so a
    changed, replaced or re-pointed file, or a symlink swapped under the name, is seen on the next run.
    """
    named = os.path.join(settings.WORKSPACE_PATH, relative_path)
    confirmed = _confirmed_paths.get(named)
    if confirmed is not None:
        # the common case, one stat(): the file (symlinks followed) is the one confirmed last time
        cached = _module_cache.get(confirmed[1])
        if cached is not None and cached.stat == confirmed[0] == _signature(named):
            return cached
    workspace = workspace_path()
    path = (workspace / relative_path).resolve()
    if not path.is_relative_to(workspace.resolve()):
        raise ImportError(f"{relative_path} is outside the workspace")
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise FileNotFoundError(f"{relative_path} no longer exists in the workspace")
    signature = _signature_of(info)
    trusted = signature if time.time_ns() - info.st_mtime_ns > RACY_SECONDS * 1_000_000_000 else None
    key = str(path)
    with _import_lock:
        cached = _module_cache.get(key)
        if cached is None or cached.stat != signature:
            digest, source = read_source(path)
            if cached is not None and cached.digest == digest:
                cached.stat = trusted
            else:
                with registry.capture():
                    module = import_file(Path(relative_path), workspace)
                cached = _module_cache[key] = _LoadedFile(digest, module, trusted, source=source)
        if cached.stat is not None:
            _confirmed_paths[named] = (cached.stat, key)
        return cached


def _signature(path: str) -> tuple | None:
    try:
        return _signature_of(os.stat(path))
    except OSError:
        return None


def _signature_of(info: os.stat_result) -> tuple:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def load_module(relative_path: str) -> ModuleType:
    """The module for a workspace file, re-imported when the file changed since this process loaded it."""
    return _loaded_file(relative_path).module


def load_specs_and_source(relative_path: str) -> tuple[tuple[dict, dict], str, str]:
    """`load_specs()` plus the hash and text of the source those specs came from: the code a run really
    runs (a WorkflowVersion, DESIGN §20)."""
    loaded = _loaded_file(relative_path)
    specs = loaded.specs
    if specs is None:
        specs = loaded.specs = registry.collect(loaded.module)
    return specs, loaded.digest, loaded.source


def load_specs(relative_path: str) -> tuple[dict, dict]:
    """`registry.collect()` of the file's current module: (workflows, data providers) by name."""
    return load_specs_and_source(relative_path)[0]


@dataclass
class FileReport:
    path: str
    hash: str = ""
    source: str = ""
    workflows: list = field(default_factory=list)  # WorkflowSpec
    data_providers: list = field(default_factory=list)  # DataProviderSpec
    error: str = ""


def scan(workspace: Path | None = None) -> list[FileReport]:
    """Import every workflow file; a name already defined by an earlier file fails the later file."""
    workspace = workspace or workspace_path()
    reports: list[FileReport] = []
    seen_workflows: dict[str, str] = {}
    seen_providers: dict[str, str] = {}
    present = set()
    for relative in iter_files(workspace):
        report = FileReport(path=relative.as_posix())
        reports.append(report)
        name = module_name_for(relative)
        present.add(name)
        try:
            report.hash, report.source = read_source(workspace / relative)
            with registry.capture() as cap:
                module = import_file(relative, workspace)
            report.workflows = [s for s in cap.workflows.values() if s.module == name]
            report.data_providers = [s for s in cap.data_providers.values() if s.module == name]
            loaded = _LoadedFile(report.hash, module, source=report.source)
            _module_cache[str((workspace / relative).resolve())] = loaded
        except BaseException as exc:  # SystemExit in a module must not end the worker either
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.error = error_summary(exc)
            continue
        duplicates = [
            f"Duplicate workflow name '{s.name}': already defined in {seen_workflows[s.name]}"
            for s in report.workflows
            if s.name in seen_workflows
        ] + [
            f"Duplicate data provider name '{s.name}': already defined in {seen_providers[s.name]}"
            for s in report.data_providers
            if s.name in seen_providers
        ]
        if duplicates:
            report.error = "\n".join(duplicates)
            report.workflows, report.data_providers = [], []
            continue
        seen_workflows.update({s.name: report.path for s in report.workflows})
        seen_providers.update({s.name: report.path for s in report.data_providers})
    # forget modules whose files vanished
    for cached_path in list(_module_cache):
        if not Path(cached_path).exists():
            registry.remove_module(_module_cache.pop(cached_path).module.__name__)
    return reports
