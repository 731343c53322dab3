"""An import guard for workflow code: code under WORKSPACE_PATH cannot import the project's internals.

This is a GUARD, not a sandbox. It stops the obvious and the accidental: a workflow that writes
`from secrets_app.models import Secret` or `import django` to read every tenant's secrets gets an
ImportError that says what to use instead (the `bifrost` SDK). It does not contain hostile code:
workflow code runs in the worker process with the worker's permissions, its environment
variables, files and network, and Python offers many ways around an import hook (`sys.modules`,
`gc`, frames of the calling engine, ctypes, ...). Who may change workflow code must be trusted
like anyone with a shell on the worker (docs/security.md).

How it works. `install_import_guard(workspace_path)` installs, once per process:

- a `sys.meta_path` finder, consulted for every module that is not imported yet (including
  `importlib.import_module`), and
- a wrapper around `builtins.__import__`, which sees every `import` / `from ... import` statement,
  also for modules already in `sys.modules` (in a worker, Django has imported every app long
  before a workflow runs, so the finder alone would never be asked).

Both look at who is importing: the module whose `__file__` (or `__spec__.origin`, or the code's
file name) lies under the workspace, outside `.packages` (third-party packages installed for the
workflows) and `.staging`. If that importer asks for a name whose top-level package is guarded,
the import fails with `WorkflowImportError` (an ImportError). Anything else — `bifrost`, the
standard library, installed third-party packages, other workspace modules — imports normally, and
code outside the workspace (the engine, Django, the SDK itself) is never affected.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

# The project's own packages, Django and the libraries that hand out its state (settings with the
# signing and encryption keys, the ORM, the Celery app, the channel layer).
GUARDED_PACKAGES = frozenset(
    {
        # the project
        "accounts",
        "orgs",
        "audit",
        "secrets_app",
        "oauth_app",
        "workflows",
        "executions",
        "forms_app",
        "bifrost_site",
        # the framework and the libraries bound to its configuration
        "django",
        "rest_framework",
        "rest_framework_simplejwt",
        "django_filters",
        "drf_spectacular",
        "corsheaders",
        "csp",
        "django_celery_beat",
        "encrypted_fields",
        "celery",
        "channels",
        "channels_redis",
    }
)

# Directories under the workspace whose modules are third-party code, not workflow code.
EXEMPT_DIRECTORIES = (".packages", ".staging")


class WorkflowImportError(ImportError):
    """Workflow code tried to import one of the project's internals."""


class WorkspaceImportGuard:
    """The finder and the check; `install_import_guard` puts one in place."""

    def __init__(
        self,
        workspace_path: str | os.PathLike,
        guarded: Iterable[str] = GUARDED_PACKAGES,
        exempt_directories: Iterable[str] = EXEMPT_DIRECTORIES,
    ):
        self.workspace = os.path.realpath(os.fspath(workspace_path))
        self.exempt = tuple(os.path.join(self.workspace, name) for name in exempt_directories)
        self.guarded = frozenset(guarded)
        self._verdicts: dict[str, bool] = {}
        self._lock = threading.Lock()

    # --- who is importing ---

    def is_workflow_code(self, filename: str | None) -> bool:
        """True when `filename` is a file under the workspace, outside the exempt directories."""
        if not filename or filename.startswith("<"):
            return False
        verdict = self._verdicts.get(filename)
        if verdict is None:
            real = os.path.realpath(filename)
            verdict = _is_within(real, self.workspace) and not any(_is_within(real, d) for d in self.exempt)
            with self._lock:
                self._verdicts[filename] = verdict
        return verdict

    def check(self, fullname: str, importer_globals: dict | None, importer_filename: str | None = None) -> None:
        """Raise WorkflowImportError when workflow code asks for a guarded module."""
        if fullname.partition(".")[0] not in self.guarded:
            return
        origin = _module_origin(importer_globals) or importer_filename
        if self.is_workflow_code(origin):
            raise WorkflowImportError(
                f"Workflow code cannot import {fullname!r}: the platform's internals are not available to "
                "code under the workspace. Use the bifrost SDK instead "
                "(from bifrost import config, secrets, oauth, context).",
                name=fullname,
                path=origin,
            )

    # --- importlib's finder protocol (modules not imported yet) ---

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.guarded:
            frame = _importing_frame()
            if frame is not None:
                self.check(fullname, frame.f_globals, frame.f_code.co_filename)
        return None  # never finds anything itself: the other finders do the importing

    def invalidate_caches(self):
        with self._lock:
            self._verdicts.clear()


_IMPORT_MACHINERY = (
    os.path.dirname(os.path.realpath(__import__("importlib").__file__)),
    os.path.realpath(__file__),
)


def _importing_frame():
    """The first frame outside the import machinery (importlib and this module)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith("<frozen importlib") or _is_machinery(filename)):
            return frame
        frame = frame.f_back
    return None


def _is_machinery(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    real = os.path.realpath(filename)
    return real == _IMPORT_MACHINERY[1] or _is_within(real, _IMPORT_MACHINERY[0])


def _module_origin(module_globals: dict | None) -> str | None:
    if not module_globals:
        return None
    filename = module_globals.get("__file__")
    if filename:
        return filename
    spec = module_globals.get("__spec__")
    return getattr(spec, "origin", None)


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


# --- installation (once per process) ---

_installed: WorkspaceImportGuard | None = None
_original_import = None  # builtins.__import__ as it was when the guard was installed
_install_lock = threading.Lock()


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    guard = _installed
    if guard is not None and level == 0 and name.partition(".")[0] in guard.guarded:
        guard.check(name, globals, sys._getframe(1).f_code.co_filename)
    return (_original_import or builtins.__import__)(name, globals, locals, fromlist, level)


def install_import_guard(workspace_path: str | os.PathLike, **options) -> WorkspaceImportGuard:
    """Guard imports made by code under `workspace_path`. Idempotent; a new path replaces the old one.

    Call it in the worker before workflow code is imported (the engine does). `options` are passed
    to WorkspaceImportGuard (`guarded`, `exempt_directories`).
    """
    global _installed, _original_import
    with _install_lock:
        guard = WorkspaceImportGuard(Path(workspace_path), **options)
        if _installed is not None:
            _remove_finder(_installed)
        _installed = guard
        sys.meta_path.insert(0, guard)
        if builtins.__import__ is not _guarded_import:
            _original_import = builtins.__import__
            builtins.__import__ = _guarded_import
        return guard


def uninstall_import_guard() -> None:
    """Remove the guard (tests; a process that stops running workflow code)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            _remove_finder(_installed)
        _installed = None
        if builtins.__import__ is _guarded_import and _original_import is not None:
            builtins.__import__ = _original_import


def installed_import_guard() -> WorkspaceImportGuard | None:
    return _installed


def _remove_finder(guard: WorkspaceImportGuard) -> None:
    try:
        sys.meta_path.remove(guard)
    except ValueError:
        pass
