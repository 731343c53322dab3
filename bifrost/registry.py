"""Where decorated workflows and data providers are recorded.

There is one process-wide ``Registry`` (``default_registry``); this module also exposes its
members at module level, so ``bifrost.registry.capture()``, ``bifrost.registry.workflows``
and ``bifrost.registry.collect(module)`` all work.

* The global maps are *last definition wins*: a worker that re-imports a changed file simply
  replaces the old specs (``remove_module`` drops a vanished file's specs).
* ``capture()`` is what discovery uses: it records exactly the specs registered while a file
  is imported, rejects a workflow or data provider name defined twice inside it (at the
  second definition, so the import fails with a traceback pointing at it), and on leaving
  checks each captured definition is complete (see ``check_complete``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import WorkflowDefinitionError

if TYPE_CHECKING:
    from .decorators import DataProviderSpec, WorkflowSpec

__all__ = [
    "Capture",
    "Registry",
    "capture",
    "collect",
    "data_providers",
    "default_registry",
    "remove_module",
    "workflows",
]

WORKFLOW_ATTR = "__bifrost_workflow__"
DATA_PROVIDER_ATTR = "__bifrost_data_provider__"


@dataclass
class Capture:
    """Specs registered inside one ``Registry.capture()`` block, in definition order."""

    workflows: dict[str, WorkflowSpec] = field(default_factory=dict)
    data_providers: dict[str, DataProviderSpec] = field(default_factory=dict)


def _origin(spec: Any) -> str:
    func = spec.func
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


def _add(kind: str, target: dict[str, Any], spec: Any) -> None:
    existing = target.get(spec.name)
    # The same function re-registering (a @param applied above @workflow rebuilds the spec)
    # replaces its own entry; a different function with the same name is a conflict.
    if existing is not None and existing.func is not spec.func:
        raise WorkflowDefinitionError(
            f"Duplicate {kind} name '{spec.name}': defined by {_origin(existing)} and again by {_origin(spec)}"
        )
    target[spec.name] = spec


class Registry:
    """Workflows and data providers by name. Not thread-safe for concurrent imports."""

    def __init__(self) -> None:
        # Never rebound (only mutated) so module-level aliases stay valid.
        self.workflows: dict[str, WorkflowSpec] = {}
        self.data_providers: dict[str, DataProviderSpec] = {}
        self._captures: contextvars.ContextVar[tuple[Capture, ...]] = contextvars.ContextVar(
            f"bifrost_registry_captures_{id(self)}", default=()
        )

    # -- registration (called by the decorators) ------------------------------------------

    def register_workflow(self, spec: WorkflowSpec) -> None:
        for cap in self._captures.get():
            _add("workflow", cap.workflows, spec)
        self.workflows[spec.name] = spec

    def register_data_provider(self, spec: DataProviderSpec) -> None:
        for cap in self._captures.get():
            _add("data provider", cap.data_providers, spec)
        self.data_providers[spec.name] = spec

    # -- discovery helpers ----------------------------------------------------------------

    @contextmanager
    def capture(self) -> Iterator[Capture]:
        """Record what gets registered inside the block (nested blocks each see everything).

        Raises ``WorkflowDefinitionError`` for a duplicate name within the block, and on a
        clean exit for an incomplete definition (``check_complete``).
        """
        cap = Capture()
        token = self._captures.set((*self._captures.get(), cap))
        try:
            yield cap
        finally:
            self._captures.reset(token)
        for spec in (*cap.workflows.values(), *cap.data_providers.values()):
            spec.check_complete()

    def collect(self, module: ModuleType) -> tuple[dict[str, WorkflowSpec], dict[str, DataProviderSpec]]:
        """Workflows and data providers defined in ``module`` (not merely imported into it).

        Returns ``(workflows, data_providers)`` keyed by name, in module attribute order.
        """
        found_workflows: dict[str, WorkflowSpec] = {}
        found_providers: dict[str, DataProviderSpec] = {}
        module_name = module.__name__
        for obj in list(vars(module).values()):
            for attr, kind, target in (
                (WORKFLOW_ATTR, "workflow", found_workflows),
                (DATA_PROVIDER_ATTR, "data provider", found_providers),
            ):
                spec = getattr(obj, attr, None) if callable(obj) else None
                if spec is None or getattr(spec.func, "__module__", None) != module_name:
                    continue
                _add(kind, target, spec)
        for spec in (*found_workflows.values(), *found_providers.values()):
            spec.check_complete()
        return found_workflows, found_providers

    def remove_module(self, module_name: str) -> None:
        """Forget every spec whose function was defined in ``module_name``."""
        for table in (self.workflows, self.data_providers):
            for name in [n for n, s in table.items() if s.func.__module__ == module_name]:
                del table[name]

    def clear(self) -> None:
        self.workflows.clear()
        self.data_providers.clear()


default_registry = Registry()

workflows = default_registry.workflows
data_providers = default_registry.data_providers
capture = default_registry.capture
collect = default_registry.collect
remove_module = default_registry.remove_module
