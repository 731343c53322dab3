"""The Django side of `bifrost.runtime`: config, secrets and OAuth for one execution.

Lookups go through the owning apps' selectors (`orgs.selectors.config_resolve`,
`secrets_app.selectors.secret_value`, `oauth_app.services.oauth_token_for_workflow`), each
behind a small adapter that imports lazily. Workflow code calls the runtime synchronously,
also from `async def` workflows where an event loop is running in the thread: the ORM refuses
to run there, so such calls are done in a helper thread owned by this runtime.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from bifrost.errors import ConfigurationError
from bifrost.execution import GLOBAL_SCOPE, ExecutionContext, OrgInfo, UserInfo
from bifrost.masking import SecretMasker
from bifrost.runtime import Runtime

# --------------------------------------------------------------------------- adapters


def _missing(what: str, module: str) -> ConfigurationError:
    return ConfigurationError(f"{what} are not available in this installation ({module} is not installed)")


def config_resolve(*, organization_id, key: str) -> Any:
    """The parsed config value (organization first, then GLOBAL); raises ConfigurationError when absent."""
    try:
        from orgs import selectors
    except ImportError:
        raise _missing("Config values", "orgs.selectors") from None
    try:
        return selectors.config_resolve(organization_id=organization_id, key=key)
    except getattr(selectors, "ConfigNotFound", LookupError):
        raise ConfigurationError.missing_config(key) from None


def config_is_secret(*, organization_id, key: str) -> bool:
    """Whether the config entry that applies is a `secret_ref` (its value must be masked)."""
    from orgs.models import Config, ConfigType

    rows = dict(
        Config.objects.filter(key=key, organization_id__in=[organization_id] if organization_id else []).values_list(
            "organization_id", "config_type"
        )
    ) or dict(Config.objects.filter(key=key, organization__isnull=True).values_list("organization_id", "config_type"))
    return any(kind == ConfigType.SECRET_REF for kind in rows.values())


def secret_value(*, organization_id, name: str) -> str:
    try:
        from secrets_app import selectors
    except ImportError:
        raise _missing("Secrets", "secrets_app.selectors") from None
    try:
        return selectors.secret_value(organization_id=organization_id, name=name)
    except getattr(selectors, "SecretNotFound", LookupError):
        raise ConfigurationError.missing_secret(name) from None


def oauth_token(*, organization_id, name: str) -> dict[str, Any]:
    try:
        from oauth_app import services
    except ImportError:
        raise _missing("OAuth connections", "oauth_app.services") from None
    if not hasattr(services, "oauth_token_for_workflow"):
        raise _missing("OAuth connections", "oauth_app.services.oauth_token_for_workflow")
    try:
        return services.oauth_token_for_workflow(organization_id=organization_id, name=name)
    except ConfigurationError:
        raise
    except LookupError:
        raise ConfigurationError.missing_oauth(name) from None
    except Exception as exc:
        if type(exc).__name__.endswith("NotFound") or type(exc).__name__.endswith("DoesNotExist"):
            raise ConfigurationError.missing_oauth(name) from None
        raise


def child_start(*, parent_execution_id, name: str, parameters: dict, organization: str | None) -> str:
    """`bifrost.workflows.start`: a child run through `execution_start` (trigger `workflow`, the parent's
    user, `parent_execution` set), in the parent's organization; only a GLOBAL parent may name another."""
    from rest_framework.exceptions import APIException

    from bifrost.workflows import StartError
    from executions.models import Execution, Trigger
    from executions.services import execution_start
    from orgs.models import Organization

    parent = Execution.objects.select_related("organization", "executed_by").get(id=parent_execution_id)
    target = parent.organization
    if organization is not None and str(organization) != str(parent.organization_id):
        if parent.organization_id is not None:
            raise StartError("A run of an organization can only start workflows in its own organization.")
        target = Organization.objects.filter(id__in=_uuid_or_none(organization), is_active=True).first()
        if target is None:
            raise StartError(f"Organization {organization} does not exist or is inactive.")
    try:
        started = execution_start(
            workflow_name=name,
            parameters=parameters,
            trigger=Trigger.WORKFLOW,
            organization=target,
            user=parent.executed_by,
            executed_by_name=parent.executed_by_name,
            parent_execution=parent,
            mode="async",
        )
    except APIException as exc:
        raise StartError(f"Could not start workflow '{name}': {exc.detail}") from None
    return str(started.execution.id)


def _uuid_or_none(value) -> list:
    import uuid

    try:
        return [uuid.UUID(str(value))]
    except ValueError:
        return []


# --------------------------------------------------------------------------- runtime


def build_context(execution, *, organization: dict | None, user: dict | None) -> ExecutionContext:
    """The workflow's context; `organization` {id, name} and `user` {id, email, name, is_platform_admin}
    are what the claim read (transitions.Claim)."""
    return ExecutionContext(
        execution_id=str(execution.id),
        organization=OrgInfo(id=str(organization["id"]), name=organization["name"]) if organization else None,
        scope=str(organization["id"]) if organization else GLOBAL_SCOPE,
        user=UserInfo(id=str(user["id"]), email=user["email"], name=user["name"] or "") if user else None,
        executed_by_name=execution.executed_by_name or "",
        is_platform_admin=bool(user and user["is_platform_admin"]),
        trigger=execution.trigger,
        parameters=dict(execution.parameters or {}),
    )


class DjangoRuntime(Runtime):
    def __init__(self, context: ExecutionContext, *, masker: SecretMasker) -> None:
        super().__init__(context)
        self.masker = masker
        self.organization_id = context.organization.id if context.organization else None
        self._executor: ThreadPoolExecutor | None = None

    def _call(self, fn, **kwargs):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(**kwargs)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bifrost-runtime")
        return self._executor.submit(fn, **kwargs).result()

    def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            try:
                executor.submit(connections.close_all).result()  # runs in the helper thread: its connection
            finally:
                executor.shutdown(wait=True)

    def get_config(self, key: str, default: Any = None) -> Any:
        try:
            value = self._call(config_resolve, organization_id=self.organization_id, key=key)
        except ConfigurationError as exc:
            if "not configured" in str(exc):
                return default
            raise
        if (
            isinstance(value, str)
            and value
            and self._call(config_is_secret, organization_id=self.organization_id, key=key)
        ):
            self.register_secret(value)
        return value

    def get_secret(self, name: str) -> str:
        value = self._call(secret_value, organization_id=self.organization_id, name=name)
        self.register_secret(value)
        return value

    def get_oauth(self, name: str) -> dict[str, Any]:
        data = self._call(oauth_token, organization_id=self.organization_id, name=name)
        for key in ("access_token", "refresh_token", "id_token"):
            if data.get(key):
                self.register_secret(data[key])
        return data

    def get_oauth_token(self, name: str) -> str:
        return self.get_oauth(name)["access_token"]

    def start_workflow(self, name: str, parameters, organization: str | None = None) -> str:
        return self._call(
            child_start,
            parent_execution_id=self.context.execution_id,
            name=name,
            parameters=dict(parameters),
            organization=organization,
        )

    def register_secret(self, value: str) -> None:
        self.masker.register(value)
