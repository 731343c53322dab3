"""Runtime hooks: activate/current, the accessors, context propagation."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import bifrost
from bifrost import (
    ConfigurationError,
    ExecutionContext,
    NotInExecutionError,
    OrgInfo,
    Runtime,
    UserError,
    UserInfo,
    activate,
    config,
    current,
    oauth,
    secrets,
)
from bifrost.runtime import propagate


def make_context(execution_id: str = "exec-1", org: OrgInfo | None = None) -> ExecutionContext:
    return ExecutionContext(
        execution_id=execution_id,
        organization=org,
        scope=org.id if org else "GLOBAL",
        user=UserInfo(id="u1", email="admin@msp.test", name="Admin"),
        executed_by_name="Admin",
        is_platform_admin=True,
        trigger="manual",
        parameters={"x": 1},
    )


class FakeRuntime(Runtime):
    def __init__(self, context: ExecutionContext, values: dict[str, Any] | None = None) -> None:
        super().__init__(context)
        self.values = values or {}
        self.registered: list[str] = []

    def get_config(self, key: str, default: Any = None) -> Any:
        return self.values.get(f"config:{key}", default)

    def get_secret(self, name: str) -> str:
        try:
            return self.values[f"secret:{name}"]
        except KeyError:
            raise ConfigurationError.missing_secret(name) from None

    def get_oauth(self, name: str) -> dict[str, Any]:
        return {
            "access_token": "access-token-value",
            "refresh_token": "refresh-token-value",
            "token_type": "Bearer",
            "expires_at": None,
            "scopes": ["a"],
        }

    def get_oauth_token(self, name: str) -> str:
        return "access-token-value"

    def register_secret(self, value: str) -> None:
        self.registered.append(value)


def test_outside_execution_everything_raises_clearly() -> None:
    for call in (
        lambda: config.get("k"),
        lambda: secrets.get("s"),
        lambda: oauth.get_token("o"),
        lambda: oauth.get("o"),
        lambda: bifrost.context.execution_id,
        current,
    ):
        with pytest.raises(NotInExecutionError, match="only be used while a workflow"):
            call()
    assert "no execution" in repr(bifrost.context)


def test_accessors_delegate_and_register_secrets() -> None:
    runtime = FakeRuntime(make_context(), {"config:region": "eu", "secret:api_key": "sk-123456"})
    with activate(runtime) as active:
        assert active is runtime
        assert current() is runtime
        assert config.get("region") == "eu"
        assert config.get("missing", default=7) == 7
        assert secrets.get("api_key") == "sk-123456"
        assert oauth.get_token("graph") == "access-token-value"
        data = oauth.get("graph")
        assert data["token_type"] == "Bearer"
        with pytest.raises(
            ConfigurationError, match="Secret 'nope' is not configured for this organization or globally"
        ):
            secrets.get("nope")
    assert runtime.registered == ["sk-123456", "access-token-value", "access-token-value", "refresh-token-value"]
    with pytest.raises(NotInExecutionError):
        current()


def test_context_proxy() -> None:
    org = OrgInfo(id="org-1", name="Contoso")
    with activate(FakeRuntime(make_context(org=org))):
        ctx = bifrost.context
        assert ctx.execution_id == "exec-1"
        assert ctx.organization == org
        assert ctx.organization_id == "org-1"
        assert ctx.scope == "org-1"
        assert ctx.is_global is False
        assert ctx.user.email == "admin@msp.test"
        assert ctx.parameters == {"x": 1}
        assert "trigger" in dir(ctx)
        assert "exec-1" in repr(ctx)
        with pytest.raises(AttributeError):
            ctx.nonexistent  # noqa: B018


def test_execution_context_is_frozen() -> None:
    ctx = make_context()
    with pytest.raises(AttributeError):
        ctx.scope = "other"  # type: ignore[misc]
    assert ctx.is_global and ctx.organization_id is None


def test_activate_nests_and_restores() -> None:
    outer, inner = FakeRuntime(make_context("outer")), FakeRuntime(make_context("inner"))
    with activate(outer):
        with activate(inner):
            assert bifrost.context.execution_id == "inner"
        assert bifrost.context.execution_id == "outer"


def test_activate_restores_after_exception() -> None:
    with pytest.raises(UserError), activate(FakeRuntime(make_context())):
        raise UserError("boom")
    with pytest.raises(NotInExecutionError):
        current()


def test_activate_rejects_non_runtime() -> None:
    with pytest.raises(TypeError, match="Runtime"), activate(object()):  # type: ignore[arg-type]
        pass


def test_runtime_is_abstract() -> None:
    with pytest.raises(TypeError):
        Runtime(make_context())  # type: ignore[abstract]


def test_threads_see_the_runtime_through_copied_context() -> None:
    seen: dict[str, Any] = {}
    with activate(FakeRuntime(make_context("threaded"))):
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(lambda: seen.update(id=bifrost.context.execution_id),))
        thread.start()
        thread.join()
        with ThreadPoolExecutor(max_workers=4) as pool:
            wrapped = propagate(lambda i: (i, bifrost.context.execution_id))
            results = list(pool.map(wrapped, range(8)))
    assert seen == {"id": "threaded"}
    assert results == [(i, "threaded") for i in range(8)]


def test_bare_thread_does_not_inherit_and_says_what_to_do() -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            current()
        except NotInExecutionError as exc:
            errors.append(exc)

    with activate(FakeRuntime(make_context())):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "copy_context" in str(errors[0])


def test_asyncio_tasks_and_to_thread_inherit() -> None:
    async def read() -> str:
        await asyncio.sleep(0)
        return bifrost.context.execution_id

    async def main() -> list[str]:
        with activate(FakeRuntime(make_context("async-1"))):
            task = asyncio.create_task(read())
            in_thread = await asyncio.to_thread(lambda: bifrost.context.execution_id)
            gathered = await asyncio.gather(read(), read())
            return [await task, in_thread, *gathered]

    assert asyncio.run(main()) == ["async-1"] * 4


def test_concurrent_executions_are_isolated() -> None:
    async def execution(name: str) -> list[str]:
        with activate(FakeRuntime(make_context(name))):
            seen = []
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append(bifrost.context.execution_id)
            return seen

    async def main() -> list[list[str]]:
        return await asyncio.gather(execution("a"), execution("b"))

    assert asyncio.run(main()) == [["a"] * 5, ["b"] * 5]


def test_user_error_and_configuration_error_messages() -> None:
    err = UserError("Mailbox already exists")
    assert str(err) == err.message == "Mailbox already exists"
    assert str(ConfigurationError.missing_config("region")) == (
        "Config 'region' is not configured for this organization or globally"
    )
    assert "OAuth connection 'graph'" in str(ConfigurationError.missing_oauth("graph"))
    assert "failed" in str(ConfigurationError.oauth_not_connected("graph", "failed"))
    assert isinstance(ConfigurationError("x"), LookupError)
