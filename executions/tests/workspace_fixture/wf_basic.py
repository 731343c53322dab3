"""Workflows used by the engine's end-to-end tests."""

import asyncio
import logging
import os
import pathlib
import time

from bifrost import UserError, config, data_provider, param, secrets, workflow

logger = logging.getLogger(__name__)


def _mark(marker):
    if marker:
        with open(marker, "a") as handle:
            handle.write(f"run {os.getpid()}\n")


@workflow(name="t_sync", execution_mode="sync", timeout_seconds=30)
@param("name", type="string", default_value="x")
@param("count", type="int", default_value=1, validation={"min": 0, "max": 10})
@param("email", type="email")
def t_sync(context, name="x", count=1, email=None):
    doubled = count * 2
    logger.info("hello %s", name)
    logger.debug("debug detail")
    return {"name": name, "doubled": doubled, "scope": context.scope, "trigger": context.trigger}


@workflow(name="t_async", execution_mode="async", timeout_seconds=30)
async def t_async(context):
    await asyncio.sleep(0.01)
    logger.info("async line")
    value = config.get("greeting", default="none")
    return f"<b>{value}</b>"


@workflow(name="t_text", execution_mode="sync", timeout_seconds=30)
def t_text():
    return "plain text"


@workflow(name="t_none", execution_mode="sync", timeout_seconds=30)
def t_none():
    print("printed line")
    print("partial", end="")
    print(" line joined")
    return None


@workflow(name="t_user_error", execution_mode="sync", timeout_seconds=30)
def t_user_error():
    raise UserError("Mailbox quota exceeded")


@workflow(name="t_crash", execution_mode="sync", timeout_seconds=30)
def t_crash():
    note = "before the crash"
    raise ValueError(f"internal detail 42 ({note})")


@workflow(name="t_secret", execution_mode="sync", timeout_seconds=30)
def t_secret(context):
    token = secrets.get("api_token")
    logger.info("using %s", token)
    print("print", token)
    return {"token": token, "suffix": token[-4:]}


@workflow(name="t_many_lines", execution_mode="sync", timeout_seconds=120)
@param("n", type="int", default_value=1000)
def t_many_lines(n=1000):
    for i in range(n):
        logger.info("line %d", i)
    return n


@workflow(name="t_partial", execution_mode="sync", timeout_seconds=30)
def t_partial():
    return {"success": False, "failed": ["b"]}


@workflow(
    name="t_flaky",
    execution_mode="sync",
    timeout_seconds=30,
    retry_policy={"max_attempts": 3, "backoff_seconds": 0.2, "backoff_factor": 2},
)
@param("marker", type="string", required=True)
@param("succeed_on", type="int", default_value=3)
def t_flaky(marker, succeed_on=3):
    path = pathlib.Path(marker)
    attempt = len(path.read_text().splitlines()) + 1 if path.exists() else 1
    _mark(marker)
    logger.info("attempt %d", attempt)
    if attempt < succeed_on:
        raise RuntimeError(f"attempt {attempt} failed")
    return {"attempts": attempt}


@workflow(name="t_timeout", execution_mode="async", timeout_seconds=2)
def t_timeout():
    logger.info("sleeping past the timeout")
    time.sleep(60)


@workflow(name="t_wait", execution_mode="async", timeout_seconds=600)
@param("seconds", type="float", default_value=60)
@param("marker", type="string", default_value="")
def t_wait(seconds=60, marker=""):
    _mark(marker)
    logger.info("waiting %s seconds", seconds)
    time.sleep(seconds)
    return "woke"


@workflow(name="t_busy", execution_mode="async", timeout_seconds=600)
def t_busy():
    logger.info("spinning")
    spins = 0
    while True:
        spins += 1


@workflow(name="t_async_wait", execution_mode="async", timeout_seconds=600)
async def t_async_wait():
    logger.info("awaiting")
    await asyncio.sleep(60)


@data_provider(name="t_options", cache_ttl_seconds=60)
@param("prefix", type="string", default_value="o")
@param("marker", type="string", default_value="")
def t_options(prefix="o", marker=""):
    _mark(marker)
    return [{"label": f"{prefix}{i}", "value": i} for i in range(3)]
