"""The bridge between workflow code and the engine that runs it.

The engine (Django side) subclasses ``Runtime`` for one execution and runs the workflow
inside ``activate(runtime)``. Workflow code then reaches it through ``bifrost.config``,
``bifrost.secrets``, ``bifrost.oauth`` and ``bifrost.context``, which call ``current()``.

The active runtime lives in a ``ContextVar``: asyncio tasks created inside ``activate`` and
code run through ``contextvars.copy_context().run``, ``asyncio.to_thread`` or ``propagate``
see it; a bare ``threading.Thread`` / ``ThreadPoolExecutor.submit`` does not (Python gives
new threads an empty context) and gets ``NotInExecutionError`` telling it what to do. There
is deliberately no process-global fallback: it could hand one organization's secrets to a
thread left over from another organization's execution.
"""

from __future__ import annotations

import abc
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from .errors import NotInExecutionError
from .execution import ExecutionContext

__all__ = [
    "ConfigAccessor",
    "ContextProxy",
    "OAuthAccessor",
    "Runtime",
    "SecretsAccessor",
    "activate",
    "config",
    "context",
    "current",
    "oauth",
    "propagate",
    "secrets",
]

P = ParamSpec("P")
R = TypeVar("R")


class Runtime(abc.ABC):
    """What one execution offers workflow code. Implemented by the engine.

    Implementations resolve organization first, then GLOBAL (``context.scope``), raise
    ``bifrost.ConfigurationError`` (use its ``missing_*`` constructors) when something is not
    configured, and register every secret value they hand out with the execution's masker.
    Methods are synchronous and may be called from ``async def`` workflows, i.e. from a
    thread with a running event loop; an implementation that uses the Django ORM must cope
    with that (e.g. do the query in a helper thread, or prefetch).
    """

    #: The execution this runtime serves.
    context: ExecutionContext

    def __init__(self, context: ExecutionContext) -> None:
        self.context = context

    @abc.abstractmethod
    def get_config(self, key: str, default: Any = None) -> Any:
        """The typed value of config ``key`` (``secret_ref`` resolved), or ``default``."""

    @abc.abstractmethod
    def get_secret(self, name: str) -> str:
        """The plaintext of secret ``name``; ``ConfigurationError`` when there is none."""

    @abc.abstractmethod
    def get_oauth(self, name: str) -> dict[str, Any]:
        """Connection ``name`` as a dict; at least ``access_token``, ``token_type``,
        ``expires_at`` (ISO string or None) and ``scopes``. ``ConfigurationError`` when missing."""

    @abc.abstractmethod
    def get_oauth_token(self, name: str) -> str:
        """A valid access token for ``name``, refreshed first if it expires within 5 minutes."""

    @abc.abstractmethod
    def register_secret(self, value: str) -> None:
        """Add ``value`` to the execution's ``SecretMasker``."""

    def start_workflow(self, name: str, parameters: Mapping[str, Any], organization: str | None = None) -> str:
        """Start a child run of workflow ``name`` (``bifrost.workflows.start``); return its execution id.
        Engines that cannot start runs leave this as is."""
        raise NotImplementedError("This runtime cannot start other workflows.")


_current: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar("bifrost_runtime", default=None)

_OUTSIDE = (
    "{what} can only be used while a workflow or data provider is executing. "
    "In a thread you start yourself, run the target in the execution's context: "
    "contextvars.copy_context().run(...), asyncio.to_thread(...) or bifrost.runtime.propagate(fn)."
)


@contextmanager
def activate(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the current one for the block (nested blocks restore the outer one)."""
    if not isinstance(runtime, Runtime):
        raise TypeError(f"activate() needs a bifrost.runtime.Runtime, got {type(runtime).__name__}")
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)


def current(what: str = "This bifrost API") -> Runtime:
    """The active runtime; ``NotInExecutionError`` outside an execution."""
    runtime = _current.get()
    if runtime is None:
        raise NotInExecutionError(_OUTSIDE.format(what=what))
    return runtime


def propagate(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in (a copy of) the caller's context, e.g. in a thread pool.

    Each call gets its own copy, so the wrapper can run in several threads at once.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- accessors

# Keys of an OAuth connection dict whose values must never appear in logs.
_OAUTH_SECRET_KEYS = frozenset({"access_token", "refresh_token", "id_token", "client_secret"})


def _register(runtime: Runtime, value: Any) -> None:
    if isinstance(value, str) and value:
        runtime.register_secret(value)


class ConfigAccessor:
    """``bifrost.config``."""

    def get(self, key: str, default: Any = None) -> Any:
        """Config ``key`` for the execution's organization, else GLOBAL, else ``default``."""
        return current("bifrost.config").get_config(key, default)

    def __repr__(self) -> str:
        return "<bifrost.config>"


class SecretsAccessor:
    """``bifrost.secrets``."""

    def get(self, name: str) -> str:
        """Secret ``name`` (organization, then GLOBAL); masked in logs, results and variables."""
        runtime = current("bifrost.secrets")
        value = runtime.get_secret(name)
        _register(runtime, value)
        return value

    def __repr__(self) -> str:
        return "<bifrost.secrets>"


class OAuthAccessor:
    """``bifrost.oauth``."""

    def get_token(self, name: str) -> str:
        """A valid access token for connection ``name`` (refreshed if it expires within 5 minutes)."""
        runtime = current("bifrost.oauth")
        token = runtime.get_oauth_token(name)
        _register(runtime, token)
        return token

    def get(self, name: str) -> dict[str, Any]:
        """Connection ``name`` as a dict (token values are registered for masking)."""
        runtime = current("bifrost.oauth")
        data = runtime.get_oauth(name)
        if isinstance(data, Mapping):
            for key, value in data.items():
                if key in _OAUTH_SECRET_KEYS or (isinstance(key, str) and key.endswith(("_token", "_secret"))):
                    _register(runtime, value)
        return data

    def __repr__(self) -> str:
        return "<bifrost.oauth>"


class ContextProxy:
    """``bifrost.context``: attribute access goes to the current ``ExecutionContext``."""

    __slots__ = ()

    def _get(self) -> ExecutionContext:
        return current("bifrost.context").context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __dir__(self) -> list[str]:
        return sorted({*ExecutionContext.__dataclass_fields__, "is_global", "organization_id"})

    def __repr__(self) -> str:
        runtime = _current.get()
        return repr(runtime.context) if runtime is not None else "<bifrost.context (no execution)>"


config = ConfigAccessor()
secrets = SecretsAccessor()
oauth = OAuthAccessor()
context = ContextProxy()
