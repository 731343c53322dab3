"""Who and where a change comes from, available to services without threading `request` through."""

from __future__ import annotations

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    actor: Any = None
    actor_name: str = ""


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "bifrost_request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


@contextmanager
def activate(context: RequestContext):
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex
