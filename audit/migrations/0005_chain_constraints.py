from django.db import migrations, models

# Now that actor and organization ids are never nulled (they are hashed), the trigger refuses every
# UPDATE and DELETE: the exceptions 0002 made for ON DELETE SET NULL are gone.
FORWARD = """
CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit log entries are append-only (delete refused)';
    END IF;
    RAISE EXCEPTION 'audit log entries are append-only (update refused)';
END;
$$ LANGUAGE plpgsql;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit log entries are append-only (delete refused)';
    END IF;
    IF NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    IF NEW.organization_id IS NULL AND OLD.organization_id IS NOT NULL
       AND (to_jsonb(NEW) - 'organization_id') = (to_jsonb(OLD) - 'organization_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit log entries are append-only (update refused)';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_chain_existing_entries")]

    operations = [
        migrations.AlterField(
            model_name="auditlog",
            name="sequence",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
