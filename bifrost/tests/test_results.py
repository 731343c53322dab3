"""classify_result, to_json_safe and capture_locals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections import OrderedDict, namedtuple
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bifrost import SecretMasker, capture_locals, classify_result, to_json_safe


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, ({"a": 1}, "json")),
        ([1, 2], ([1, 2], "json")),
        ("<p>hi</p>", ("<p>hi</p>", "html")),
        ("  \n<table>", ("  \n<table>", "html")),
        ("< 5 but > 3", ("< 5 but > 3", "html")),
        ("<no closing", ("<no closing", "text")),
        ("a <b>", ("a <b>", "text")),
        ("plain", ("plain", "text")),
        ("", ("", "text")),
        (None, (None, "none")),
        (42, (42, "json")),
        (1.5, (1.5, "json")),
        (True, (True, "json")),
        ((1, 2), ([1, 2], "json")),
        (dt.date(2024, 1, 2), ("2024-01-02", "json")),
    ],
)
def test_classify_result(value: Any, expected: tuple[Any, str]) -> None:
    assert classify_result(value) == expected


def test_classify_result_of_unknown_object_is_json_repr_not_html() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing 1>"

    assert classify_result(Thing()) == ("<Thing 1>", "json")


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    when: dt.datetime


Pair = namedtuple("Pair", "left right")


def test_to_json_safe_conversions() -> None:
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "dt": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "date": dt.date(2024, 1, 2),
        "time": dt.time(9, 30),
        "delta": dt.timedelta(minutes=1, seconds=30),
        "uuid": uid,
        "decimal": Decimal("1.10"),
        "path": Path("/tmp/x"),
        "set": {3, 1, 2},
        "mixed_set": {1, "a"},
        "frozen": frozenset({"b"}),
        "tuple": (1, (2, 3)),
        "bytes": b"\x00\x01\x02",
        "bytearray": bytearray(5),
        "enum": Colour.RED,
        "intenum": Level.HIGH,
        "dataclass": Point(1, dt.datetime(2024, 1, 1)),
        "namedtuple": Pair(1, 2),
        "ordered": OrderedDict(a=1),
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "nul": "a\x00b",
        "surrogate": "x\ud800y",
        2: "int key",
        None: "none key",
        True: "bool key",
        uid: "uuid key",
        (1, 2): "tuple key",
    }
    safe = to_json_safe(value)
    json.dumps(safe, allow_nan=False)
    (safe["surrogate"]).encode("utf-8")
    assert safe["dt"] == "2024-01-02T03:04:05+00:00"
    assert safe["date"] == "2024-01-02"
    assert safe["time"] == "09:30:00"
    assert safe["delta"] == 90.0
    assert safe["uuid"] == str(uid)
    assert safe["decimal"] == "1.10"
    assert safe["path"] == "/tmp/x"
    assert safe["set"] == [1, 2, 3]
    assert sorted(map(str, safe["mixed_set"])) == ["1", "a"]
    assert safe["frozen"] == ["b"]
    assert safe["tuple"] == [1, [2, 3]]
    assert safe["bytes"] == "<bytes len=3>"
    assert safe["bytearray"] == "<bytes len=5>"
    assert safe["enum"] == "red"
    assert safe["intenum"] == 3
    assert safe["dataclass"] == {"x": 1, "when": "2024-01-01T00:00:00"}
    assert safe["namedtuple"] == {"left": 1, "right": 2}
    assert safe["ordered"] == {"a": 1}
    assert (safe["nan"], safe["inf"], safe["ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert "\x00" not in safe["nul"]
    assert safe["2"] == "int key"
    assert safe["null"] == "none key"
    assert safe["true"] == "bool key"
    assert safe[str(uid)] == "uuid key"
    assert safe["(1, 2)"] == "tuple key"


def test_to_json_safe_unknown_objects_and_truncation() -> None:
    class Big:
        def __repr__(self) -> str:
            return "B" * 5000

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert len(to_json_safe(Big())) == 1000
    assert to_json_safe(Big()).endswith("…")
    assert to_json_safe(Broken()) == "<unrepresentable Broken object>"
    assert to_json_safe(object()).startswith("<object object at")
    gen = (i for i in range(3))
    assert to_json_safe(gen).startswith("<generator")
    assert list(gen) == [0, 1, 2]  # not consumed


def test_to_json_safe_cycles_and_depth() -> None:
    cyclic: dict[str, Any] = {"name": "root"}
    cyclic["self"] = cyclic
    cyclic["list"] = [cyclic]
    assert to_json_safe(cyclic) == {"name": "root", "self": "<cycle>", "list": ["<cycle>"]}

    shared = [1]
    assert to_json_safe({"a": shared, "b": shared}) == {"a": [1], "b": [1]}  # not a cycle

    deep: list[Any] = []
    node = deep
    for _ in range(100):
        child: list[Any] = []
        node.append(child)
        node = child
    safe = to_json_safe(deep, max_depth=5)
    assert safe == [[[[["<max depth exceeded>"]]]]]
    json.dumps(to_json_safe(deep))  # default depth: no RecursionError


def test_to_json_safe_leaves_json_values_alone() -> None:
    value = {"a": [1, 2.5, "s", True, None, {"b": []}]}
    assert to_json_safe(value) == value
    assert to_json_safe(value) is not value


def test_capture_locals_filters_and_converts() -> None:
    import os

    def helper() -> None:
        return None

    class Local:
        pass

    frame = {
        "context": object(),
        "_private": 1,
        "os": os,
        "helper": helper,
        "Local": Local,
        "method": "x".upper,
        "count": 3,
        "when": dt.date(2024, 5, 1),
        "token": "Bearer sekrit-token",
        "items": {1, 2},
    }
    assert capture_locals(frame) == {
        "count": 3,
        "when": "2024-05-01",
        "token": "Bearer sekrit-token",
        "items": [1, 2],
    }
    masked = capture_locals(frame, masker=SecretMasker(["sekrit-token"]))
    assert masked["token"] == "Bearer ***"


def test_capture_locals_of_a_real_frame() -> None:
    import sys

    def workflow_body(context: Any, email: str) -> dict[str, Any]:
        result = {"created": email}  # noqa: F841 - read back through f_locals
        _hidden = 1
        return sys._getframe().f_locals.copy()  # type: ignore[return-value]

    captured = capture_locals(workflow_body(object(), "a@b.co"))
    assert captured == {"email": "a@b.co", "result": {"created": "a@b.co"}}
