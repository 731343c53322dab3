"""Re-encrypt every encrypted column with the newest ENCRYPTION_KEYS entry (DESIGN §8).

Encrypted columns are discovered by field class (any field using KeyringEncryptedMixin in any
installed model), so a new encrypted field is covered without touching this module.

Each batch runs in its own transaction and locks its rows with FOR UPDATE SKIP LOCKED: rows being
written concurrently are skipped (and counted) rather than waited for; running the command again
picks them up. A value already encrypted with the newest key is left alone, so re-runs are cheap
and safe. A value no configured key can decrypt is reported by model, id and field, and the run
goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from bifrost_site.crypto import KeyringEncryptedMixin, keyring


@dataclass
class ColumnReport:
    label: str
    rotated: int = 0
    current: int = 0
    skipped_locked: int = 0
    undecryptable: list[str] = field(default_factory=list)


def encrypted_columns() -> list[tuple[type, list]]:
    """(model, [encrypted fields]) for every concrete model holding encrypted fields."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, KeyringEncryptedMixin)]
        if fields:
            found.append((model, fields))
    return found


def _row_label(model, pk, name) -> str:
    label = f"{model._meta.label} id={pk}"
    return f"{label} name={name!r}" if name else label


def rotate_all(*, batch_size: int = 500, dry_run: bool = False) -> list[ColumnReport]:
    newest = Fernet(settings.ENCRYPTION_KEYS[0].encode())
    ring = keyring()
    reports = []
    for model, fields in encrypted_columns():
        reports.extend(_rotate_model(model, fields, newest, ring, batch_size=batch_size, dry_run=dry_run))
    return reports


def _rotate_model(model, fields, newest, ring, *, batch_size: int, dry_run: bool) -> list[ColumnReport]:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    pk_col = qn(model._meta.pk.column)
    has_name = any(f.name == "name" for f in model._meta.concrete_fields)
    name_sql = qn("name") if has_name else "NULL"
    cols = ", ".join(qn(f.column) for f in fields)
    reports = {f.column: ColumnReport(label=f"{model._meta.label}.{f.name}") for f in fields}

    last_pk = None
    while True:
        with connection.cursor() as cursor:
            if last_pk is None:
                cursor.execute(f"SELECT {pk_col} FROM {table} ORDER BY {pk_col} LIMIT %s", [batch_size])  # noqa: S608
            else:
                cursor.execute(
                    f"SELECT {pk_col} FROM {table} WHERE {pk_col} > %s ORDER BY {pk_col} LIMIT %s",  # noqa: S608
                    [last_pk, batch_size],
                )
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            break
        last_pk = ids[-1]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk_col}, {name_sql}, {cols} FROM {table} WHERE {pk_col} = ANY(%s) "  # noqa: S608
                "FOR UPDATE SKIP LOCKED",
                [ids],
            )
            rows = cursor.fetchall()
            locked_ids = {row[0] for row in rows}
            for f in fields:
                reports[f.column].skipped_locked += len(set(ids) - locked_ids)
            for pk, name, *values in rows:
                updates = {}
                for f, stored in zip(fields, values, strict=True):
                    report = reports[f.column]
                    if stored is None:
                        continue
                    token = stored.encode()
                    try:
                        newest.decrypt(token)
                        report.current += 1
                        continue
                    except InvalidToken:
                        pass
                    try:
                        updates[f.column] = ring.rotate(token).decode()
                        report.rotated += 1
                    except InvalidToken:
                        report.undecryptable.append(_row_label(model, pk, name))
                if updates and not dry_run:
                    assignments = ", ".join(f"{qn(col)} = %s" for col in updates)
                    cursor.execute(
                        f"UPDATE {table} SET {assignments} WHERE {pk_col} = %s",  # noqa: S608
                        [*updates.values(), pk],
                    )
    return list(reports.values())
