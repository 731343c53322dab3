"""The offline check docs/audit.md gives customers, kept here verbatim so the test runs exactly it.

It needs only the export file and the base64 public key (GET /api/audit-logs/public-key), the
standard library and `cryptography`."""

import base64
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def verify_export(data: bytes, public_key_b64: str) -> int:
    """Raise if the export was changed; return the number of entries."""
    *lines, last = data.splitlines(keepends=True)
    trailer = json.loads(last)
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    key.verify(base64.b64decode(trailer["signature"]), b"".join(lines))  # raises InvalidSignature
    previous = None
    for line in lines:
        entry = json.loads(line)
        claimed, sequence = entry.pop("entry_hash"), entry.pop("sequence")
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != claimed:
            raise ValueError(f"entry #{sequence} does not match its entry_hash")
        if previous is not None and sequence == previous[0] + 1 and entry["previous_hash"] != previous[1]:
            raise ValueError(f"entry #{sequence} does not follow entry #{previous[0]}")
        previous = (sequence, claimed)
    return len(lines)
