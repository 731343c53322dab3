"""bifrost — the SDK that Bifrost workflow code imports.

Pure Python: it never imports Django or the project's apps, so workspace files can be
imported (and unit-tested) anywhere.

Declaring (``bifrost.decorators``)::

    from bifrost import workflow, param, data_provider, config, secrets, oauth, UserError

    @workflow(name="onboard_user", category="Users", execution_mode="async")
    @param("email", type="email", required=True)
    @param("licence", data_provider="licences")
    def onboard_user(context, email, licence=None): ...

* ``workflow(name=None, description="", category="General", tags=(), execution_mode=None,
  timeout_seconds=1800, schedule=None, schedule_timezone="UTC", endpoint_enabled=False,
  allowed_methods=("POST",), public_endpoint=False, retry_policy=None)`` — attaches a frozen
  ``WorkflowSpec`` as ``func.__bifrost_workflow__`` and registers it. ``name`` defaults to
  the function name (``^[a-z0-9_]+$``), ``description`` to the docstring's first paragraph.
  ``WorkflowSpec.effective_mode(trigger)``, ``.to_dict()`` (keys = ``Workflow`` model fields),
  ``.check_complete()``.
* ``param(name, type="string", label=None, required=False, default_value=None,
  help_text=None, validation=None, data_provider=None)`` — types string, int, float, bool,
  email, json, list, date, datetime; ``validation`` = {pattern, min, max, message}.
  Above or below ``@workflow`` (not both); order is top-to-bottom.
* ``data_provider(name=None, description="", category="General", cache_ttl_seconds=300)`` —
  ``DataProviderSpec`` in ``func.__bifrost_data_provider__``; ``normalize_options(value)``
  checks its return value is ``[{label, value, metadata?}]`` (strings allowed).
* A function is ``def`` or ``async def``; it gets the context when its first parameter is
  named ``context``. Invalid declarations raise ``WorkflowDefinitionError`` at import.

Input (``bifrost.params``): ``coerce_parameters(specs, raw, *, allow_unknown=False) -> dict``
validates and coerces (specs may be ``ParamSpec`` or stored dicts), raising
``ParameterValidationError`` whose ``.errors`` is ``{field: [messages]}`` for every bad field.
Dates and datetimes are passed to workflows as ISO strings.

Discovery (``bifrost.registry``): ``registry.workflows`` / ``registry.data_providers`` (by
name, last definition wins), ``with registry.capture() as cap:`` (specs registered during an
import; duplicate names rejected), ``registry.collect(module) -> (workflows, data_providers)``.

At run time (``bifrost.runtime``): the engine subclasses ``Runtime`` and runs the code in
``with activate(runtime):``. Workflow code uses ``config.get(key, default=None)``,
``secrets.get(name)``, ``oauth.get_token(name)``, ``oauth.get(name)`` and ``context``
(an ``ExecutionContext``: execution_id, organization, scope, user, executed_by_name,
is_platform_admin, trigger, parameters). Outside an execution they raise
``NotInExecutionError``. Threads need ``contextvars.copy_context().run`` or ``propagate``.

Errors (``bifrost.errors``): ``UserError`` (message shown to every user),
``WorkflowDefinitionError``, ``ParameterValidationError``, ``NotInExecutionError``,
``ConfigurationError``, ``DataProviderError``.

Engine helpers: ``masking.SecretMasker`` (``register``, ``mask``, ``mask_data``),
``results.classify_result(value) -> (json_safe, "json"|"html"|"text"|"none")``,
``results.to_json_safe(obj, max_depth=32)``, ``results.capture_locals(locals, masker=None)``.
"""

from __future__ import annotations

from . import registry, workflows
from .decorators import (
    DataProviderSpec,
    WorkflowSpec,
    data_provider,
    normalize_options,
    param,
    workflow,
)
from .errors import (
    BifrostError,
    ConfigurationError,
    DataProviderError,
    NotInExecutionError,
    ParameterValidationError,
    UserError,
    WorkflowDefinitionError,
)
from .execution import ExecutionContext, OrgInfo, UserInfo
from .masking import SecretMasker
from .params import ParamSpec, coerce_parameters
from .results import capture_locals, classify_result, to_json_safe
from .runtime import Runtime, activate, config, context, current, oauth, secrets

__all__ = [
    "BifrostError",
    "ConfigurationError",
    "DataProviderError",
    "DataProviderSpec",
    "ExecutionContext",
    "NotInExecutionError",
    "OrgInfo",
    "ParamSpec",
    "ParameterValidationError",
    "Runtime",
    "SecretMasker",
    "UserError",
    "UserInfo",
    "WorkflowDefinitionError",
    "WorkflowSpec",
    "activate",
    "workflows",
    "capture_locals",
    "classify_result",
    "coerce_parameters",
    "config",
    "context",
    "current",
    "data_provider",
    "normalize_options",
    "oauth",
    "param",
    "registry",
    "secrets",
    "to_json_safe",
    "workflow",
]
