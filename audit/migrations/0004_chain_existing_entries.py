from django.db import migrations

TRIGGER = "audit_auditlog_append_only"


def chain_existing_entries(apps, schema_editor):
    """Chain the entries written before the hash chain existed, in (created_at, id) order. The
    append-only trigger is disabled for this one transaction (the migration runs as the table's owner)
    and enabled again before it commits."""
    from audit.chain import GENESIS, HASHED_FIELDS, compute_hash, payload

    AuditLog = apps.get_model("audit", "AuditLog")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_auditlog DISABLE TRIGGER {TRIGGER}")
    previous_hash = GENESIS
    rows = AuditLog.objects.order_by("created_at", "id").values(*HASHED_FIELDS)
    for sequence, row in enumerate(rows.iterator(chunk_size=2000), start=1):
        entry_hash = compute_hash(payload(row), previous_hash)
        AuditLog.objects.filter(pk=row["id"]).update(
            sequence=sequence, previous_hash=previous_hash, entry_hash=entry_hash
        )
        previous_hash = entry_hash
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_auditlog ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_hash_chain_fields")]

    operations = [migrations.RunPython(chain_existing_entries, migrations.RunPython.noop)]
