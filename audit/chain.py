"""The audit log's hash chain (DESIGN §20).

Every entry carries `previous_hash` (the `entry_hash` of the entry before it; GENESIS for the first)
and `entry_hash` = SHA-256 (hex) of the canonical JSON of its fields together with `previous_hash`:
keys sorted, separators `,` and `:`, UTF-8, non-ASCII characters written as themselves. Entries are
appended under one PostgreSQL advisory lock, so concurrent writers in any process keep one chain;
`sequence` numbers the chain 1, 2, 3, … in append order.

The canonical values (what `payload()` returns and what an export line carries):
`id`, `actor_id`, `organization_id` as lower-case UUID strings or null; `created_at` in ISO 8601,
UTC, with microseconds (`2026-12-07T13:18:50.123456+00:00`); `ip_address` as Python's `ipaddress`
writes it, or null; `changes` as stored (numbers with no fractional part are stored as integers, so
a JSON round trip never changes the bytes). docs/audit.md shows how to check an export offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

GENESIS = "0" * 64
# pg_advisory_xact_lock key of the chain: the first 8 bytes of SHA-256("bifrost.audit.chain"), signed.
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"bifrost.audit.chain").digest()[:8], "big", signed=True)
HASHED_FIELDS = (
    "id",
    "created_at",
    "actor_id",
    "actor_name",
    "organization_id",
    "action",
    "resource_type",
    "resource_id",
    "changes",
    "ip_address",
    "user_agent",
    "request_id",
)


def normalize_json(value: Any) -> Any:
    """JSON-safe `changes` whose canonical bytes survive PostgreSQL's jsonb: floats with no fractional
    part become integers (jsonb prints 1e20 as 100000000000000000000, which reads back as an int)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): normalize_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize_json(item) for item in value]
    raise TypeError(f"audit changes must be JSON values, not {type(value).__name__}")


def _uuid_or_none(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _timestamp(value: dt.datetime | str) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _ip(value: Any) -> str | None:
    return None if value in (None, "") else str(ipaddress.ip_address(str(value)))


def payload(entry: Any) -> dict[str, Any]:
    """The canonical values of an entry's hashed fields; `entry` is an AuditLog or a mapping of
    its column values (`actor_id`, `organization_id`, …)."""

    def get(name):
        return entry[name] if isinstance(entry, Mapping) else getattr(entry, name)

    return {
        "id": _uuid_or_none(get("id")),
        "created_at": _timestamp(get("created_at")),
        "actor_id": _uuid_or_none(get("actor_id")),
        "actor_name": get("actor_name"),
        "organization_id": _uuid_or_none(get("organization_id")),
        "action": get("action"),
        "resource_type": get("resource_type"),
        "resource_id": get("resource_id"),
        "changes": normalize_json(get("changes")),
        "ip_address": _ip(get("ip_address")),
        "user_agent": get("user_agent"),
        "request_id": get("request_id"),
    }


def canonical_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compute_hash(fields: Mapping[str, Any], previous_hash: str) -> str:
    """SHA-256 hex of the canonical JSON of `fields` (canonical values) with `previous_hash`."""
    return hashlib.sha256(canonical_json({**fields, "previous_hash": previous_hash})).hexdigest()


def chain_append(entry) -> None:
    """Insert an unsaved AuditLog as the chain's next link. Takes the chain's advisory lock for the rest
    of the current transaction (the lock, and so the order, is released only when the entry commits
    or rolls back); `created_at` is taken under the lock."""
    from django.utils import timezone

    from audit.models import AuditLog

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        head = AuditLog.objects.order_by("-sequence").values_list("sequence", "entry_hash").first()
        entry.sequence, entry.previous_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        entry.created_at = timezone.now()
        entry.changes = normalize_json(entry.changes or {})
        entry.entry_hash = compute_hash(payload(entry), entry.previous_hash)
        entry.save(force_insert=True)


@dataclass(frozen=True)
class Break:
    """The first entry at which the chain does not hold."""

    sequence: int | None
    entry_id: str
    reason: str

    def __str__(self) -> str:
        return f"broken at entry #{self.sequence} ({self.entry_id}): {self.reason}"


@dataclass(frozen=True)
class Verdict:
    count: int
    broken: Break | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(rows: Iterable[Mapping[str, Any]]) -> Verdict:
    """Walk entries in chain order (`sequence`): each must follow the one before it (its
    `previous_hash` is that entry's `entry_hash`, its `sequence` the next number) and hash to its own
    `entry_hash`. A deleted entry breaks the chain at the entry after it, an edited entry at itself,
    a moved entry where the order first differs."""
    previous_hash, expected_sequence, count = GENESIS, 1, 0
    for row in rows:
        count += 1
        where = (row.get("sequence"), str(row["id"]))
        if row.get("sequence") != expected_sequence:
            return Verdict(count, Break(*where, f"expected entry #{expected_sequence} here (an entry is missing)"))
        if row["previous_hash"] != previous_hash:
            return Verdict(
                count, Break(*where, "previous_hash does not match the entry before it (deleted or reordered)")
            )
        if compute_hash(payload(row), row["previous_hash"]) != row["entry_hash"]:
            return Verdict(count, Break(*where, "the entry's contents do not match its entry_hash (edited)"))
        previous_hash, expected_sequence = row["entry_hash"], expected_sequence + 1
    return Verdict(count)


def verify_database(chunk_size: int = 2000) -> Verdict:
    """Verify the whole chain as stored."""
    from audit.models import AuditLog

    columns = ("sequence", "previous_hash", "entry_hash", *HASHED_FIELDS)
    rows = AuditLog.objects.order_by("sequence").values(*columns).iterator(chunk_size=chunk_size)
    return verify(rows)
