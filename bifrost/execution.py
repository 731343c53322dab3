"""The execution context handed to workflow code (``context`` argument / ``bifrost.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GLOBAL_SCOPE", "TRIGGERS", "ExecutionContext", "OrgInfo", "UserInfo"]

GLOBAL_SCOPE = "GLOBAL"
#: Values of ``Execution.trigger`` (DESIGN §5).
TRIGGERS = frozenset({"manual", "form", "schedule", "endpoint", "rerun"})


@dataclass(frozen=True)
class OrgInfo:
    id: str
    name: str


@dataclass(frozen=True)
class UserInfo:
    id: str
    email: str
    name: str


@dataclass(frozen=True)
class ExecutionContext:
    """Who runs what, where. Built by the engine; read-only for workflow code.

    ``scope`` is the organization id as a string, or ``"GLOBAL"``. ``parameters`` holds the
    coerced input parameters (JSON-safe; dates are ISO strings).
    """

    execution_id: str
    organization: OrgInfo | None
    scope: str
    user: UserInfo | None
    executed_by_name: str
    is_platform_admin: bool
    trigger: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def is_global(self) -> bool:
        return self.scope == GLOBAL_SCOPE

    @property
    def organization_id(self) -> str | None:
        return self.organization.id if self.organization else None
