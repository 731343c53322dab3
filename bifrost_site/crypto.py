"""Field encryption keyed by ENCRYPTION_KEYS (DESIGN §8).

django-fernet-encrypted-fields derives its keys from SECRET_KEY; we replace that key source
so that rotating SECRET_KEY never orphans stored secrets. MultiFernet encrypts with the first
key and decrypts with any, which is what `manage.py rotate_encryption_keys` relies on.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from encrypted_fields.fields import EncryptedFieldMixin


class UndecryptableValue(str):
    """Stands in for a value that none of the configured keys can decrypt.

    Loading such a row must not break a whole list; code that needs the value checks for
    this type and reports which row is affected.
    """

    def __repr__(self) -> str:
        return "<UndecryptableValue>"


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty: at least one Fernet key is required.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def keyring() -> MultiFernet:
    return _multifernet(tuple(settings.ENCRYPTION_KEYS))


class KeyringEncryptedMixin(EncryptedFieldMixin):
    @property
    def keys(self) -> list[bytes]:
        return [k.encode() for k in settings.ENCRYPTION_KEYS]

    @property
    def f(self) -> MultiFernet:
        return keyring()

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        try:
            return self.f.decrypt(value.encode()).decode()
        except InvalidToken:
            return UndecryptableValue(value)

    def to_python(self, value):
        # Values in Python are always plaintext; only from_db_value sees ciphertext.
        return models.Field.to_python(self, value)


class EncryptedTextField(KeyringEncryptedMixin, models.TextField):
    pass
