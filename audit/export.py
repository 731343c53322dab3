"""The signed NDJSON export of the audit log (DESIGN §20, docs/audit.md).

One line per entry, in chain order: the entry's canonical fields (audit.chain.payload) plus `sequence`,
`previous_hash` and `entry_hash`, written as canonical JSON (sorted keys, `,`/`:` separators, UTF-8)
and a newline. The last line is `{"key_id": …, "signature": …}`: the base64 Ed25519 signature over the
exact bytes of every line before it, newlines included. An export narrowed to one organization or a
date range still carries the global chain's hashes, so each entry checks on its own.

Ed25519 signs a whole message, not a digest, so the lines are kept until the last one is signed: an
export holds its own size in memory (about 1 KB per entry) while it streams.
"""

from __future__ import annotations

from collections.abc import Iterator

from audit import signing
from audit.chain import HASHED_FIELDS, canonical_json, payload

EXPORT_COLUMNS = ("sequence", "previous_hash", "entry_hash", *HASHED_FIELDS)


def export_line(row) -> bytes:
    return (
        canonical_json(
            {
                **payload(row),
                "sequence": row["sequence"],
                "previous_hash": row["previous_hash"],
                "entry_hash": row["entry_hash"],
            }
        )
        + b"\n"
    )


def export_lines(rows) -> Iterator[bytes]:
    """Yield each entry's line, then the signature line over all of them."""
    signed = bytearray()
    for row in rows:
        line = export_line(row)
        signed += line
        yield line
    yield canonical_json({"signature": signing.sign(bytes(signed)), "key_id": signing.key_id()}) + b"\n"
