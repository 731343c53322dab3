"""``@workflow``, ``@param`` and ``@data_provider``: declarations that discovery reads.

The decorators return the function itself (no wrapper), so a workflow stays a plain callable.
They attach a frozen spec (``__bifrost_workflow__`` / ``__bifrost_data_provider__``) and
register it in ``bifrost.registry``.

Stacking: ``@param`` may sit below or above ``@workflow``/``@data_provider`` (parameters keep
their top-to-bottom order either way), but not on both sides of it. When ``@workflow`` is the
outermost decorator the definition is checked completely right away; when ``@param``
decorators are applied after it, the "every required function argument is declared" check
runs when discovery's ``registry.capture()`` block ends (or in ``registry.collect``), since
until then more ``@param`` decorators may still come.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from croniter import croniter

from . import registry as _registry
from .errors import DataProviderError, WorkflowDefinitionError
from .execution import TRIGGERS
from .params import ParamSpec, make_param_spec

__all__ = [
    "HTTP_METHODS",
    "DataProviderSpec",
    "WorkflowSpec",
    "data_provider",
    "normalize_options",
    "param",
    "validate_cron",
    "workflow",
]

F = TypeVar("F", bound=Callable[..., Any])

PARAMS_ATTR = "__bifrost_params__"
WORKFLOW_ATTR = _registry.WORKFLOW_ATTR
DATA_PROVIDER_ATTR = _registry.DATA_PROVIDER_ATTR
# Set when @workflow/@data_provider ran after (above) the @param decorators: the parameter
# list is then final, and a further @param would be on both sides.
_SEALED_ATTR = "__bifrost_sealed__"

NAME_RE = re.compile(r"^[a-z0-9_]+$")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
EXECUTION_MODES = ("sync", "async")
MAX_TIMEOUT_SECONDS = 7200
MAX_TIME_SAVED_MINUTES = 100_000  # about ten weeks of a full-time person
_RETRY_KEYS = frozenset({"max_attempts", "backoff_seconds", "backoff_factor"})


# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class _Signature:
    takes_context: bool
    accepts_kwargs: bool
    # keyword-passable argument name -> has a default (``context`` excluded)
    arguments: dict[str, bool]
    positional_only: tuple[str, ...]


def _analyse(func: Callable[..., Any]) -> _Signature:
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    takes_context = bool(params) and params[0].name == "context" and params[0].kind in positional_kinds
    if takes_context:
        params = params[1:]
    arguments: dict[str, bool] = {}
    positional_only: list[str] = []
    accepts_kwargs = False
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_kwargs = True
        elif p.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional_only.append(p.name)
        elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
            arguments[p.name] = p.default is not inspect.Parameter.empty
    return _Signature(takes_context, accepts_kwargs, arguments, tuple(positional_only))


def _check_callable(func: Any, decorator: str) -> None:
    if not callable(func) or isinstance(func, type):
        raise WorkflowDefinitionError(f"{decorator} must decorate a function, not {func!r}")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise WorkflowDefinitionError(
            f"{decorator} cannot decorate generator function {func.__qualname__}; return a value instead"
        )


def _check_param_names(label: str, sig: _Signature, params: Iterable[ParamSpec]) -> None:
    for p in params:
        if p.name in sig.positional_only:
            raise WorkflowDefinitionError(
                f"{label}: argument '{p.name}' is positional-only; parameters are passed by keyword"
            )
        if p.name not in sig.arguments and not sig.accepts_kwargs:
            raise WorkflowDefinitionError(
                f"{label}: @param({p.name!r}) is not an argument of the function "
                f"(arguments: {', '.join(sig.arguments) or 'none'})"
            )


def _check_complete(label: str, func: Callable[..., Any], params: Iterable[ParamSpec]) -> None:
    sig = _analyse(func)
    declared = {p.name: p for p in params}
    _check_param_names(label, sig, declared.values())
    if sig.positional_only:
        raise WorkflowDefinitionError(
            f"{label}: argument(s) {', '.join(sig.positional_only)} are positional-only; "
            "parameters are passed by keyword"
        )
    for arg, has_default in sig.arguments.items():
        if has_default:
            continue
        p = declared.get(arg)
        if p is None:
            raise WorkflowDefinitionError(
                f"{label}: function argument '{arg}' has no default and no @param({arg!r}) declares it"
            )
        if not p.required and p.default_value is None:
            raise WorkflowDefinitionError(
                f"{label}: @param({arg!r}) is optional but neither it nor the function argument "
                "has a default; use required=True, a default_value, or a default in the function"
            )


def _label(kind: str, name: str, func: Callable[..., Any]) -> str:
    return f"@{kind} '{name}' ({getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')})"


def _doc_summary(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n", 1)[0].strip()


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, eq=False)  # identity equality: hashable, usable as a cache key
class WorkflowSpec:
    """A validated ``@workflow`` declaration. Fields mirror the ``Workflow`` model plus runtime facts."""

    name: str
    description: str
    category: str
    tags: list[str]
    parameters: list[ParamSpec]
    execution_mode: str | None
    timeout_seconds: int
    schedule: str  # normalised 5-field cron, "" when unscheduled
    schedule_timezone: str
    endpoint_enabled: bool
    allowed_methods: list[str]
    public_endpoint: bool
    retry_policy: dict[str, Any] | None
    func: Callable[..., Any]
    takes_context: bool
    is_async: bool
    max_concurrency: int | None = None  # runs admitted at once, across organizations (DESIGN §15)
    time_saved_minutes: int | None = None  # a person's minutes one successful run saves (DESIGN §20 usage)
    approval_policy: dict[str, Any] | None = None  # a person approves each run first (DESIGN §16)

    def effective_mode(self, trigger: str) -> str:
        """``execution_mode`` if set, else "sync" for endpoint calls and "async" otherwise."""
        if trigger not in TRIGGERS:
            raise ValueError(f"Unknown trigger {trigger!r}; expected one of {sorted(TRIGGERS)}")
        if self.execution_mode is not None:
            return self.execution_mode
        return "sync" if trigger == "endpoint" else "async"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe metadata; the keys are exactly the ``Workflow`` model's declared fields."""
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "tags": list(self.tags),
            "parameters": [p.to_dict() for p in self.parameters],
            "execution_mode": self.execution_mode,
            "timeout_seconds": self.timeout_seconds,
            "schedule": self.schedule,
            "schedule_timezone": self.schedule_timezone,
            "endpoint_enabled": self.endpoint_enabled,
            "allowed_methods": list(self.allowed_methods),
            "public_endpoint": self.public_endpoint,
            "retry_policy": dict(self.retry_policy) if self.retry_policy else None,
            "max_concurrency": self.max_concurrency,
            "time_saved_minutes": self.time_saved_minutes,
            "approval_policy": dict(self.approval_policy) if self.approval_policy else None,
        }

    @property
    def module(self) -> str:
        return self.func.__module__

    def check_complete(self) -> None:
        """Raise ``WorkflowDefinitionError`` unless every required argument is declared."""
        _check_complete(_label("workflow", self.name, self.func), self.func, self.parameters)


@dataclass(frozen=True, eq=False)
class DataProviderSpec:
    """A validated ``@data_provider`` declaration."""

    name: str
    description: str
    category: str
    parameters: list[ParamSpec]
    cache_ttl_seconds: int
    func: Callable[..., Any]
    takes_context: bool
    is_async: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe metadata; the keys are the ``DataProvider`` model's declared fields."""
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "parameters": [p.to_dict() for p in self.parameters],
            "cache_ttl_seconds": self.cache_ttl_seconds,
        }

    @property
    def module(self) -> str:
        return self.func.__module__

    def check_complete(self) -> None:
        _check_complete(_label("data_provider", self.name, self.func), self.func, self.parameters)


# --------------------------------------------------------------------------- argument checks

_CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = frozenset(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
_DAYS = frozenset(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
_CRON_ITEM = re.compile(r"^(?:\*|(?P<a>\d+|[a-z]{3})(?:-(?P<b>\d+|[a-z]{3}))?)(?:/\d+)?$")


def validate_cron(expression: str) -> str:
    """Validate a standard 5-field cron expression and return it normalised.

    Accepts numbers, ``*``, ranges, lists, steps, month/day names and the ``@daily`` style
    aliases (expanded). Rejects extensions that celery's crontab cannot run (seconds field,
    ``L``, ``W``, ``#``, ``?``, ``H``). Raises ``ValueError`` with the reason.
    """
    if not isinstance(expression, str):
        raise ValueError(f"must be a string, got {expression!r}")
    text = " ".join(expression.split())
    text = _CRON_ALIASES.get(text.lower(), text)
    fields = text.lower().split(" ")
    if len(fields) != 5:
        raise ValueError(f"{expression!r} must have exactly 5 fields (minute hour day-of-month month day-of-week)")
    for index, value in enumerate(fields):
        for item in value.split(","):
            m = _CRON_ITEM.match(item)
            names = _MONTHS if index == 3 else _DAYS if index == 4 else frozenset()
            if not m or any(
                part is not None and not part.isdigit() and part not in names for part in (m.group("a"), m.group("b"))
            ):
                raise ValueError(f"{expression!r} has an unsupported cron field {value!r}")
    if not croniter.is_valid(text):
        raise ValueError(f"{expression!r} is not a valid cron expression")
    return text


def _validate_workflow_args(
    label: str,
    *,
    description: Any,
    category: Any,
    tags: Any,
    execution_mode: Any,
    timeout_seconds: Any,
    schedule: Any,
    schedule_timezone: Any,
    endpoint_enabled: Any,
    allowed_methods: Any,
    public_endpoint: Any,
    retry_policy: Any,
    max_concurrency: Any = None,
    time_saved_minutes: Any = None,
    approval: Any = None,
) -> dict[str, Any]:
    def fail(arg: str, msg: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(f"{label}: {arg} {msg}")

    if max_concurrency is not None and (
        not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1
    ):
        raise fail("max_concurrency", f"must be a positive integer or None, got {max_concurrency!r}")
    if time_saved_minutes is not None and (
        not isinstance(time_saved_minutes, int)
        or isinstance(time_saved_minutes, bool)
        or not 0 <= time_saved_minutes <= MAX_TIME_SAVED_MINUTES
    ):
        raise fail(
            "time_saved_minutes",
            f"must be an integer from 0 to {MAX_TIME_SAVED_MINUTES} or None, got {time_saved_minutes!r}",
        )

    if not isinstance(description, str):
        raise fail("description", f"must be a string, got {description!r}")
    if not isinstance(category, str) or not category.strip():
        raise fail("category", f"must be a non-empty string, got {category!r}")
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise fail("tags", f"must be a list of strings, got {tags!r}")
    tag_list: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise fail("tags", f"must contain non-empty strings, got {tag!r}")
        if tag.strip() not in tag_list:
            tag_list.append(tag.strip())
    if execution_mode is not None and execution_mode not in EXECUTION_MODES:
        raise fail("execution_mode", f"must be None, 'sync' or 'async', got {execution_mode!r}")
    if (
        not isinstance(timeout_seconds, int)
        or isinstance(timeout_seconds, bool)
        or not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS
    ):
        raise fail("timeout_seconds", f"must be an integer from 1 to {MAX_TIMEOUT_SECONDS}, got {timeout_seconds!r}")
    cron = ""
    if schedule is not None and schedule != "":
        try:
            cron = validate_cron(schedule)
        except ValueError as exc:
            raise fail("schedule", str(exc)) from None
    if not isinstance(schedule_timezone, str) or not schedule_timezone:
        raise fail("schedule_timezone", f"must be an IANA time zone name, got {schedule_timezone!r}")
    try:
        zoneinfo.ZoneInfo(schedule_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise fail("schedule_timezone", f"{schedule_timezone!r} is not a known IANA time zone") from None
    if not isinstance(endpoint_enabled, bool):
        raise fail("endpoint_enabled", f"must be True or False, got {endpoint_enabled!r}")
    if not isinstance(public_endpoint, bool):
        raise fail("public_endpoint", f"must be True or False, got {public_endpoint!r}")
    if public_endpoint and not endpoint_enabled:
        raise fail("public_endpoint", "requires endpoint_enabled=True")
    if isinstance(allowed_methods, str) or not isinstance(allowed_methods, Iterable):
        raise fail("allowed_methods", f"must be a list such as ('POST',), got {allowed_methods!r}")
    methods: list[str] = []
    for method in allowed_methods:
        upper = method.upper() if isinstance(method, str) else method
        if upper not in HTTP_METHODS:
            raise fail("allowed_methods", f"may only contain {', '.join(HTTP_METHODS)}; got {method!r}")
        if upper not in methods:
            methods.append(upper)
    if not methods:
        raise fail("allowed_methods", "must name at least one method")
    policy = _validate_retry_policy(label, retry_policy)
    return {
        "description": description.strip(),
        "category": category.strip(),
        "tags": tag_list,
        "execution_mode": execution_mode,
        "timeout_seconds": timeout_seconds,
        "schedule": cron,
        "schedule_timezone": schedule_timezone,
        "endpoint_enabled": endpoint_enabled,
        "allowed_methods": methods,
        "public_endpoint": public_endpoint,
        "retry_policy": policy,
        "max_concurrency": max_concurrency,
        "time_saved_minutes": time_saved_minutes,
        "approval_policy": validate_approval_policy(label, approval),
    }


_APPROVAL_KEYS = frozenset({"approver_role_ids", "approver_roles", "timeout_hours"})
MAX_APPROVAL_TIMEOUT_HOURS = 24 * 90


def validate_approval_policy(label: str, approval: Any) -> dict[str, Any] | None:
    """``approval={"approver_roles": ["Change approvers"], "timeout_hours": 72}`` (or role ids in
    ``approver_role_ids``): every run waits for a person (DESIGN §16). None = no approval."""
    if approval is None:
        return None

    def fail(msg: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(f"{label}: approval {msg}")

    if not isinstance(approval, Mapping):
        raise fail(f"must be None or a dict, got {approval!r}")
    unknown = set(approval) - _APPROVAL_KEYS
    if unknown:
        raise fail(f"has unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_APPROVAL_KEYS))}")
    policy: dict[str, Any] = {}
    for key in ("approver_role_ids", "approver_roles"):
        values = approval.get(key, [])
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise fail(f"'{key}' must be a list of strings, got {values!r}")
        values = list(values)
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise fail(f"'{key}' must contain non-empty strings, got {values!r}")
        policy[key] = [v.strip() for v in values]
    hours = approval.get("timeout_hours", 72)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_APPROVAL_TIMEOUT_HOURS:
        raise fail(f"'timeout_hours' must be an integer from 1 to {MAX_APPROVAL_TIMEOUT_HOURS}, got {hours!r}")
    policy["timeout_hours"] = hours
    return policy


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate_retry_policy(label: str, policy: Any) -> dict[str, Any] | None:
    """``max_attempts`` counts every attempt including the first."""
    if policy is None:
        return None

    def fail(msg: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(f"{label}: retry_policy {msg}")

    if not isinstance(policy, Mapping):
        raise fail(f"must be None or a dict, got {policy!r}")
    unknown = set(policy) - _RETRY_KEYS
    if unknown:
        raise fail(f"has unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_RETRY_KEYS))}")
    attempts = policy.get("max_attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
        raise fail(f"'max_attempts' must be an integer from 1 to 10, got {attempts!r}")
    backoff = policy.get("backoff_seconds")
    if not _is_number(backoff) or backoff < 0:
        raise fail(f"'backoff_seconds' must be a number >= 0, got {backoff!r}")
    factor = policy.get("backoff_factor", 1)
    if not _is_number(factor) or factor < 1:
        raise fail(f"'backoff_factor' must be a number >= 1, got {factor!r}")
    return {"max_attempts": attempts, "backoff_seconds": backoff, "backoff_factor": factor}


def _resolve_name(kind: str, name: Any, func: Callable[..., Any]) -> str:
    resolved = func.__name__ if name is None else name
    if not isinstance(resolved, str) or not NAME_RE.match(resolved):
        raise WorkflowDefinitionError(
            f"@{kind} name must match ^[a-z0-9_]+$ (lower-case letters, digits, underscore); "
            f"got {resolved!r} for {getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"
        )
    return resolved


def _mark_decorated(func: Callable[..., Any], label: str) -> None:
    for attr, kind in ((WORKFLOW_ATTR, "@workflow"), (DATA_PROVIDER_ATTR, "@data_provider")):
        if getattr(func, attr, None) is not None:
            raise WorkflowDefinitionError(f"{label}: the function is already decorated with {kind}")


# --------------------------------------------------------------------------- decorators


def workflow(
    name: str | Callable[..., Any] | None = None,
    description: str = "",
    category: str = "General",
    tags: Iterable[str] = (),
    execution_mode: str | None = None,
    timeout_seconds: int = 1800,
    schedule: str | None = None,
    schedule_timezone: str = "UTC",
    endpoint_enabled: bool = False,
    allowed_methods: Iterable[str] = ("POST",),
    public_endpoint: bool = False,
    retry_policy: Mapping[str, Any] | None = None,
    max_concurrency: int | None = None,
    time_saved_minutes: int | None = None,
    approval: Mapping[str, Any] | None = None,
) -> Any:
    """Declare a workflow. ``name`` defaults to the function name; a bare ``@workflow`` works.

    ``description`` defaults to the first paragraph of the docstring.
    Raises ``WorkflowDefinitionError`` naming the workflow and the offending argument.
    """
    if callable(name):
        return workflow()(name)

    def decorator(func: F) -> F:
        _check_callable(func, "@workflow")
        wf_name = _resolve_name("workflow", name, func)
        label = _label("workflow", wf_name, func)
        _mark_decorated(func, label)
        fields = _validate_workflow_args(
            label,
            description=description or _doc_summary(func),
            category=category,
            tags=tags,
            execution_mode=execution_mode,
            timeout_seconds=timeout_seconds,
            schedule=schedule,
            schedule_timezone=schedule_timezone,
            endpoint_enabled=endpoint_enabled,
            allowed_methods=allowed_methods,
            public_endpoint=public_endpoint,
            retry_policy=retry_policy,
            max_concurrency=max_concurrency,
            time_saved_minutes=time_saved_minutes,
            approval=approval,
        )
        params = list(getattr(func, PARAMS_ATTR, ()))
        sig = _analyse(func)
        _check_param_names(label, sig, params)
        spec = WorkflowSpec(
            name=wf_name,
            parameters=params,
            func=func,
            takes_context=sig.takes_context,
            is_async=inspect.iscoroutinefunction(func),
            **fields,
        )
        if params:  # @workflow is above its @params: the list is final, check it all now
            spec.check_complete()
            setattr(func, _SEALED_ATTR, True)
        setattr(func, WORKFLOW_ATTR, spec)
        _registry.default_registry.register_workflow(spec)
        return func

    return decorator


def data_provider(
    name: str | Callable[..., Any] | None = None,
    description: str = "",
    category: str = "General",
    cache_ttl_seconds: int = 300,
) -> Any:
    """Declare a data provider: a function returning ``[{label, value, metadata?}]``.

    ``cache_ttl_seconds=0`` disables caching. Its inputs are declared with ``@param``.
    """
    if callable(name):
        return data_provider()(name)

    def decorator(func: F) -> F:
        _check_callable(func, "@data_provider")
        dp_name = _resolve_name("data_provider", name, func)
        label = _label("data_provider", dp_name, func)
        _mark_decorated(func, label)
        desc = description or _doc_summary(func)
        if not isinstance(desc, str):
            raise WorkflowDefinitionError(f"{label}: description must be a string, got {desc!r}")
        if not isinstance(category, str) or not category.strip():
            raise WorkflowDefinitionError(f"{label}: category must be a non-empty string, got {category!r}")
        if not isinstance(cache_ttl_seconds, int) or isinstance(cache_ttl_seconds, bool) or cache_ttl_seconds < 0:
            raise WorkflowDefinitionError(
                f"{label}: cache_ttl_seconds must be an integer >= 0, got {cache_ttl_seconds!r}"
            )
        params = list(getattr(func, PARAMS_ATTR, ()))
        sig = _analyse(func)
        _check_param_names(label, sig, params)
        spec = DataProviderSpec(
            name=dp_name,
            description=desc.strip(),
            category=category.strip(),
            parameters=params,
            cache_ttl_seconds=cache_ttl_seconds,
            func=func,
            takes_context=sig.takes_context,
            is_async=inspect.iscoroutinefunction(func),
        )
        if params:
            spec.check_complete()
            setattr(func, _SEALED_ATTR, True)
        setattr(func, DATA_PROVIDER_ATTR, spec)
        _registry.default_registry.register_data_provider(spec)
        return func

    return decorator


def param(
    name: str,
    type: str = "string",  # public API name, shadows the builtin on purpose
    label: str | None = None,
    required: bool = False,
    default_value: Any = None,
    help_text: str | None = None,
    validation: Mapping[str, Any] | None = None,
    data_provider: str | None = None,
) -> Callable[[F], F]:
    """Declare one input parameter of a workflow or data provider (see ``bifrost.params``)."""
    spec = make_param_spec(
        name,
        type=type,
        label=label,
        required=required,
        default_value=default_value,
        help_text=help_text,
        validation=validation,
        data_provider=data_provider,
    )

    def decorator(func: F) -> F:
        _check_callable(func, f"@param({name!r})")
        existing: tuple[ParamSpec, ...] = getattr(func, PARAMS_ATTR, ())
        where = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"
        if any(p.name == name for p in existing):
            raise WorkflowDefinitionError(f"@param({name!r}) is declared twice on {where}")
        if getattr(func, _SEALED_ATTR, False):
            raise WorkflowDefinitionError(
                f"@param({name!r}) on {where}: put every @param on the same side of @workflow/@data_provider"
            )
        # Decorators apply bottom-up; prepending keeps the top-to-bottom declaration order.
        params = (spec, *existing)
        setattr(func, PARAMS_ATTR, params)
        wf: WorkflowSpec | None = getattr(func, WORKFLOW_ATTR, None)
        if wf is not None:
            _check_param_names(_label("workflow", wf.name, func), _analyse(func), [spec])
            wf = dataclasses.replace(wf, parameters=list(params))
            setattr(func, WORKFLOW_ATTR, wf)
            _registry.default_registry.register_workflow(wf)
        dp: DataProviderSpec | None = getattr(func, DATA_PROVIDER_ATTR, None)
        if dp is not None:
            _check_param_names(_label("data_provider", dp.name, func), _analyse(func), [spec])
            dp = dataclasses.replace(dp, parameters=list(params))
            setattr(func, DATA_PROVIDER_ATTR, dp)
            _registry.default_registry.register_data_provider(dp)
        return func

    return decorator


# --------------------------------------------------------------------------- provider results

_OPTION_KEYS = frozenset({"label", "value", "metadata"})


def normalize_options(value: Any) -> list[dict[str, Any]]:
    """Validate a data provider's return value; return ``[{label, value, metadata?}]``.

    Accepts a list (or tuple) of dicts with ``label`` (string) and ``value`` (string, number
    or bool) and an optional ``metadata`` dict, or of plain strings (label = value).
    Raises ``DataProviderError`` saying which item is wrong and why.
    """
    if not isinstance(value, (list, tuple)):
        raise DataProviderError(
            f"A data provider must return a list of {{label, value}} options, got {type(value).__name__}"
        )
    options: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"Data provider option {index}"
        if isinstance(item, str):
            options.append({"label": item, "value": item})
            continue
        if not isinstance(item, Mapping):
            raise DataProviderError(f"{where} must be a dict or a string, got {type(item).__name__}")
        missing = {"label", "value"} - set(item)
        if missing:
            raise DataProviderError(f"{where} is missing {', '.join(sorted(missing))}: {item!r}")
        extra = set(item) - _OPTION_KEYS
        if extra:
            raise DataProviderError(
                f"{where} has unexpected key(s) {sorted(map(str, extra))}; put extra data under 'metadata'"
            )
        label, val = item["label"], item["value"]
        if not isinstance(label, str):
            raise DataProviderError(f"{where}: label must be a string, got {label!r}")
        if not (isinstance(val, str) or _is_number(val) or isinstance(val, bool)):
            raise DataProviderError(f"{where}: value must be a string, number or bool, got {val!r}")
        option: dict[str, Any] = {"label": label, "value": val}
        if item.get("metadata") is not None:
            if not isinstance(item["metadata"], Mapping):
                raise DataProviderError(f"{where}: metadata must be a dict, got {item['metadata']!r}")
            option["metadata"] = dict(item["metadata"])
        options.append(option)
    return options
