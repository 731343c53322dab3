"""Start another workflow from workflow code (DESIGN §16)::

    from bifrost import workflows

    child_id = workflows.start("disable_mailbox", {"mailbox": "ex.employee@contoso.com"})

The child run records this run as its ``parent_execution``, runs in this run's organization (a GLOBAL run
may name one with ``organization=<id>``) and goes through the normal start path: parameters are validated
first, limits and quotas apply, and a workflow that requires approval waits for a person, so a workflow can
put a risky step behind an approval without holding a worker. ``start`` returns at once with the child's
execution id; it does not wait for the child to finish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .runtime import current

__all__ = ["StartError", "start"]


class StartError(RuntimeError):
    """The child run could not be started (unknown or unavailable workflow, bad parameters, another
    organization, quota); the message says why."""


def start(name: str, parameters: Mapping[str, Any] | None = None, organization: str | None = None) -> str:
    """Start workflow ``name`` with ``parameters``; return the child execution's id."""
    if not isinstance(name, str) or not name:
        raise TypeError("workflows.start() needs a workflow name")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise TypeError(f"workflows.start() parameters must be a mapping, got {type(parameters).__name__}")
    return current("bifrost.workflows.start").start_workflow(name, dict(parameters or {}), organization)
