"""Turning what workflow code returns (and its locals) into JSON the database accepts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import types
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .masking import SecretMasker

__all__ = ["RESULT_TYPES", "capture_locals", "classify_result", "to_json_safe"]

RESULT_TYPES = ("json", "html", "text", "none")
MAX_REPR = 1000
DEFAULT_MAX_DEPTH = 32
CYCLE = "<cycle>"
TOO_DEEP = "<max depth exceeded>"


def classify_result(value: Any) -> tuple[Any, str]:
    """``(json_safe_value, result_type)`` for a workflow's return value (DESIGN §9).

    dict/list (and other containers) -> "json"; a ``str`` that starts with "<" after leading
    whitespace and contains ">" -> "html"; any other ``str`` -> "text"; None -> "none";
    everything else (numbers, bools, dates, objects) -> "json" with its JSON-safe form.
    """
    if value is None:
        return None, "none"
    if isinstance(value, str):
        safe = _clean_str(value)
        return safe, "html" if value.lstrip().startswith("<") and ">" in value else "text"
    return to_json_safe(value), "json"


def _clean_str(text: str) -> str:
    # PostgreSQL text/jsonb cannot hold NUL, and lone surrogates cannot be encoded as UTF-8.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _truncated_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<unrepresentable {type(obj).__name__} object>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 1] + "…"
    return _clean_str(text)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _clean_str(key)
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float, Decimal, uuid.UUID, PurePath, enum.Enum)):
        return _clean_str(str(key.value if isinstance(key, enum.Enum) else key))
    if isinstance(key, (dt.date, dt.time)):
        return key.isoformat()
    return _truncated_repr(key)


def to_json_safe(obj: Any, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """A copy of ``obj`` built only from dict/list/str/int/float/bool/None.

    datetime/date/time -> ISO string; timedelta -> total seconds; UUID, Decimal, Path -> str;
    Enum -> its value; set/frozenset/tuple -> list (sets sorted when possible); namedtuple
    and dataclass -> dict; bytes -> "<bytes len=N>"; NaN/Infinity -> "NaN"/"Infinity"/
    "-Infinity"; dict keys -> strings; anything else -> its repr, truncated to 1000 chars.
    A container met again inside itself becomes "<cycle>" and nesting beyond ``max_depth``
    becomes "<max depth exceeded>". Never raises.
    """
    return _safe(obj, max_depth, set())


def _safe(obj: Any, depth: int, active: set[int]) -> Any:
    if obj is None or isinstance(obj, (bool, int)) and not isinstance(obj, enum.Enum):
        return obj
    if isinstance(obj, str):
        return _clean_str(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, enum.Enum):
        return _safe(obj.value, depth, active)
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (uuid.UUID, Decimal, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return f"<bytes len={len(obj) if not isinstance(obj, memoryview) else obj.nbytes}>"

    is_dataclass = dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    is_container = isinstance(obj, (Mapping, list, tuple, set, frozenset)) or is_dataclass
    if not is_container:
        return _truncated_repr(obj)
    if depth <= 0:
        return TOO_DEEP
    if id(obj) in active:
        return CYCLE
    active.add(id(obj))
    try:
        if is_dataclass:
            items = {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
            return {k: _safe(v, depth - 1, active) for k, v in items.items()}
        if isinstance(obj, Mapping):
            return {_key(k): _safe(v, depth - 1, active) for k, v in obj.items()}
        if isinstance(obj, tuple) and hasattr(obj, "_asdict"):  # namedtuple
            return {_key(k): _safe(v, depth - 1, active) for k, v in obj._asdict().items()}
        if isinstance(obj, (set, frozenset)):
            try:
                ordered: list[Any] = sorted(obj)
            except TypeError:
                ordered = list(obj)
            return [_safe(v, depth - 1, active) for v in ordered]
        return [_safe(v, depth - 1, active) for v in obj]
    except Exception:
        return _truncated_repr(obj)
    finally:
        active.discard(id(obj))


_SKIPPED_TYPES = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    type,
)


def capture_locals(
    frame_locals: Mapping[str, Any],
    *,
    masker: SecretMasker | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> dict[str, Any]:
    """A workflow's local variables as JSON (for ``Execution.variables``, admins only).

    Skips names starting with "_", the ``context`` argument, modules, functions, methods and
    classes; converts the rest with ``to_json_safe`` and masks them when given a masker.
    """
    captured: dict[str, Any] = {}
    for name, value in frame_locals.items():
        if not isinstance(name, str) or name.startswith("_") or name == "context":
            continue
        if isinstance(value, _SKIPPED_TYPES):
            continue
        captured[name] = to_json_safe(value, max_depth=max_depth)
    if masker is not None:
        captured = masker.mask_data(captured)
    return captured
