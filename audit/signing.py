"""The Ed25519 key that signs audit-log exports (DESIGN §20).

`AUDIT_SIGNING_KEY` is the base64 of a 32-byte Ed25519 private key; its public half is published at
`GET /api/audit-logs/public-key`. `key_id` names the key (so a customer holding several public keys,
e.g. across a rotation, knows which one to use): "ed25519:" + the first 16 hex digits of the SHA-256 of
the raw public key.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.cache
def _private_key(encoded: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(encoded, validate=True)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as exc:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be the base64 of a 32-byte Ed25519 private key.") from exc


def private_key() -> Ed25519PrivateKey:
    return _private_key(settings.AUDIT_SIGNING_KEY)


def public_key_bytes() -> bytes:
    return private_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem() -> str:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def key_id() -> str:
    return "ed25519:" + hashlib.sha256(public_key_bytes()).hexdigest()[:16]


def sign(data: bytes) -> str:
    """The base64 Ed25519 signature of `data`."""
    return base64.b64encode(private_key().sign(data)).decode("ascii")
