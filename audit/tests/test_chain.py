"""The audit log's hash chain, its verification command and the signed export (DESIGN §20)."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import threading

import pytest
from cryptography.exceptions import InvalidSignature
from django.core.management import CommandError, call_command
from django.db import connection, connections

import audit
from accounts.tests.factories import UserFactory
from audit.chain import GENESIS, compute_hash, payload, verify_database
from audit.models import AuditLog
from audit.tests.verify_offline import verify_export
from conftest import client_for

TRIGGER = "audit_auditlog_append_only"


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _tamper(sql, params=()):
    """Change rows behind the application's back: the trigger is disabled only around this statement
    (inside the test's transaction, which is rolled back)."""
    _raw(f"ALTER TABLE audit_auditlog DISABLE TRIGGER {TRIGGER}")
    _raw(sql, params)
    _raw(f"ALTER TABLE audit_auditlog ENABLE TRIGGER {TRIGGER}")


def _entries(n, **kwargs):
    return [
        audit.record(action="test.entry", resource_type="thing", resource_id=str(i), changes={"i": i}, **kwargs)
        for i in range(n)
    ]


# --- the chain ---


@pytest.mark.django_db
def test_entries_link_to_the_one_before_and_hash_their_canonical_fields(org, admin_user):
    first, second = (
        audit.record(
            action="organization.update",
            actor=admin_user,
            organization=org,
            changes={"name": "Zoë ✓", "ratio": 0.1, "whole": 2.0, "big": 1e20, "nested": [{"b": 1, "a": None}]},
        ),
        audit.record(action="secret.update", resource_type="secret", changes={"value": "hunter2"}),
    )
    assert (first.sequence, first.previous_hash) == (1, GENESIS)
    assert (second.sequence, second.previous_hash) == (2, first.entry_hash)
    stored = AuditLog.objects.get(id=first.id)
    # what was hashed at write time is what the database gives back
    assert compute_hash(payload(stored), stored.previous_hash) == stored.entry_hash == first.entry_hash
    assert stored.changes["whole"] == 2 and isinstance(stored.changes["whole"], int)
    canonical = payload(stored)
    assert canonical["created_at"].endswith("+00:00") and len(canonical["created_at"]) == 32
    body = json.dumps(
        {**canonical, "previous_hash": GENESIS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "Zoë ✓".encode() in body
    assert hashlib.sha256(body).hexdigest() == first.entry_hash
    assert AuditLog.objects.get(id=second.id).changes == {"value": "***"}
    assert verify_database().count == 2 and verify_database().intact


@pytest.mark.django_db
def test_verify_command_reports_intact(capsys):
    _entries(3)
    call_command("verify_audit_log")
    assert capsys.readouterr().out.strip() == "intact, 3 entries"


@pytest.mark.django_db
def test_empty_log_is_intact(capsys):
    call_command("verify_audit_log")
    assert capsys.readouterr().out.strip() == "intact, 0 entries"


def _broken():
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_log")
    assert excinfo.value.returncode == 1
    verdict = verify_database()
    assert not verdict.intact
    assert str(verdict.broken) == str(excinfo.value)
    return verdict.broken


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditlog SET action = 'secret.read' WHERE id = %s",
        "UPDATE audit_auditlog SET changes = '{\"i\": 99}' WHERE id = %s",
        "UPDATE audit_auditlog SET actor_name = 'someone-else' WHERE id = %s",
        "UPDATE audit_auditlog SET created_at = created_at - interval '1 day' WHERE id = %s",
        "UPDATE audit_auditlog SET organization_id = NULL WHERE id = %s",
        "UPDATE audit_auditlog SET ip_address = '10.0.0.1' WHERE id = %s",
    ],
)
def test_an_edited_entry_breaks_the_chain_at_that_entry(sql, org):
    entries = _entries(5, organization=org)
    _tamper(sql, [entries[2].id])
    broken = _broken()
    assert (broken.sequence, broken.entry_id) == (3, str(entries[2].id))
    assert "edited" in broken.reason


@pytest.mark.django_db
def test_an_edit_that_also_rewrites_the_hash_breaks_the_next_entry():
    entries = _entries(5)
    row = AuditLog.objects.values().get(id=entries[2].id)
    row["action"] = "secret.read"
    forged = compute_hash(payload(row), row["previous_hash"])
    _tamper("UPDATE audit_auditlog SET action = 'secret.read', entry_hash = %s WHERE id = %s", [forged, entries[2].id])
    broken = _broken()
    assert (broken.sequence, broken.entry_id) == (4, str(entries[3].id))


@pytest.mark.django_db
@pytest.mark.parametrize(("deleted", "broken_at"), [(0, 1), (2, 3), (3, 4)])
def test_a_deleted_entry_breaks_the_chain_at_the_entry_after_it(deleted, broken_at):
    entries = _entries(5)
    _tamper("DELETE FROM audit_auditlog WHERE id = %s", [entries[deleted].id])
    broken = _broken()
    assert broken.entry_id == str(entries[deleted + 1].id)
    assert broken.sequence == broken_at + 1


@pytest.mark.django_db
def test_a_deleted_entry_with_renumbered_successors_still_breaks_there():
    entries = _entries(5)
    _tamper("DELETE FROM audit_auditlog WHERE id = %s", [entries[2].id])
    _tamper("UPDATE audit_auditlog SET sequence = sequence - 1 WHERE sequence > 3")
    broken = _broken()
    assert (broken.sequence, broken.entry_id) == (3, str(entries[3].id))
    assert "deleted or reordered" in broken.reason


@pytest.mark.django_db
def test_reordered_entries_break_the_chain_where_the_order_first_differs():
    entries = _entries(5)
    _tamper("UPDATE audit_auditlog SET sequence = -1 WHERE id = %s", [entries[1].id])
    _tamper("UPDATE audit_auditlog SET sequence = 2 WHERE id = %s", [entries[2].id])
    _tamper("UPDATE audit_auditlog SET sequence = 3 WHERE id = %s", [entries[1].id])
    broken = _broken()
    assert (broken.sequence, broken.entry_id) == (2, str(entries[2].id))


@pytest.mark.django_db
def test_the_database_still_refuses_updates_and_deletes():
    entry = _entries(1)[0]
    for sql in ("UPDATE audit_auditlog SET action = 'x' WHERE id = %s", "DELETE FROM audit_auditlog WHERE id = %s"):
        with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
            from django.db import transaction

            with transaction.atomic():
                cursor.execute(sql, [entry.id])


@pytest.mark.django_db
def test_deleting_a_user_or_organization_keeps_the_ids_and_the_chain(org):
    user = UserFactory(organization=org)
    entry = audit.record(action="user.update", actor=user, organization=org)
    ids = (user.id, org.id, user.email)
    user.delete()
    org.delete()
    stored = AuditLog.objects.get(id=entry.id)
    assert (stored.actor_id, stored.organization_id, stored.actor_name) == ids
    assert verify_database().intact


@pytest.mark.django_db
def test_entries_cannot_be_saved_outside_the_chain():
    with pytest.raises(TypeError, match="audit.record"):
        AuditLog.objects.create(action="x")


# --- concurrency: several processes and threads, each with its own connection ---

PER_WRITER = 15


def _write_entries(tag: str) -> None:
    try:
        for i in range(PER_WRITER):
            audit.record(action="test.concurrent", resource_type="writer", resource_id=f"{tag}-{i}")
    finally:
        connections.close_all()


def _process_writer(tag: str) -> None:
    import django.db

    django.db.connections.close_all()  # nothing inherited: the parent closed its connections before forking
    _write_entries(tag)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_several_processes_and_threads_keep_one_chain():
    connections.close_all()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_process_writer, args=(f"p{n}",)) for n in range(3)]
    threads = [threading.Thread(target=_write_entries, args=(f"t{n}",)) for n in range(3)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    total = 6 * PER_WRITER
    verdict = verify_database()
    assert verdict.intact, verdict.broken
    assert verdict.count == total
    assert list(AuditLog.objects.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, total + 1))
    assert AuditLog.objects.filter(action="test.concurrent").values("resource_id").distinct().count() == total


# --- the signed export ---


def _export(client, **params):
    response = client.get("/api/audit-logs/export", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/x-ndjson")
    return b"".join(response.streaming_content)


@pytest.fixture
def public_key(admin_user):
    body = client_for(admin_user).get("/api/audit-logs/public-key").json()
    assert body["algorithm"] == "Ed25519" and body["key_id"].startswith("ed25519:")
    assert "BEGIN PUBLIC KEY" in body["public_key_pem"]
    return body


@pytest.mark.django_db
def test_a_signed_export_verifies_with_only_the_public_key(admin_user, org, public_key):
    audit.record(action="organization.update", organization=org, changes={"name": "Zoë ✓", "n": 1.5})
    _entries(3)
    data = _export(client_for(admin_user))
    lines = data.splitlines(keepends=True)
    assert all(line.endswith(b"\n") for line in lines)
    assert json.loads(lines[-1])["key_id"] == public_key["key_id"]
    # the export holds every entry in chain order with its hashes (admin_user's creation is not audited)
    entries = [json.loads(line) for line in lines[:-1]]
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["previous_hash"] == GENESIS
    assert verify_export(data, public_key["public_key"]) == len(entries) == AuditLog.objects.count()


@pytest.mark.django_db
def test_an_export_fails_verification_after_any_byte_changes(admin_user, public_key):
    _entries(2)
    data = _export(client_for(admin_user))
    signed_length = len(data) - len(data.splitlines(keepends=True)[-1])
    for position in range(signed_length):
        for replacement in {data[position] ^ 0x01, ord("x") if data[position] != ord("x") else ord("y")}:
            changed = data[:position] + bytes([replacement]) + data[position + 1 :]
            with pytest.raises((InvalidSignature, ValueError)):
                verify_export(changed, public_key["public_key"])
    with pytest.raises(InvalidSignature):  # a dropped entry
        lines = data.splitlines(keepends=True)
        verify_export(b"".join(lines[1:]), public_key["public_key"])


@pytest.mark.django_db
def test_an_export_of_one_organization_keeps_the_global_chain_hashes(admin_user, org, other_org, public_key):
    mine = audit.record(action="role.create", organization=org)
    audit.record(action="role.create", organization=other_org)
    audit.record(action="config.update")
    last = audit.record(action="role.delete", organization=org)
    for client, params in (
        (client_for(admin_user), {"organization": str(org.id)}),
        (client_for(admin_user, org), {}),
    ):
        data = _export(client, **params)
        entries = [json.loads(line) for line in data.splitlines()[:-1]]
        assert [e["id"] for e in entries] == [str(mine.id), str(last.id)]
        assert [e["sequence"] for e in entries] == [1, 4]
        assert entries[1]["previous_hash"] != entries[0]["entry_hash"]  # the global chain's link
        assert verify_export(data, public_key["public_key"]) == 2


@pytest.mark.django_db
def test_export_date_range(admin_user):
    old, middle, new = _entries(3)
    _tamper(
        "UPDATE audit_auditlog SET created_at = %s WHERE id = %s", ["2026-01-15T10:00:00+00:00", middle.id]
    )  # only the chain order matters here, not the hashes
    data = _export(client_for(admin_user), **{"from": "2026-01-01", "to": "2026-02-01"})
    assert [json.loads(line)["id"] for line in data.splitlines()[:-1]] == [str(middle.id)]
    data = _export(client_for(admin_user), **{"from": "2026-02-01T00:00:00Z"})
    assert [json.loads(line)["id"] for line in data.splitlines()[:-1]] == [str(old.id), str(new.id)]
    response = client_for(admin_user).get("/api/audit-logs/export", {"from": "yesterday"})
    assert response.status_code == 400 and "from" in response.json()["details"]
    response = client_for(admin_user).get("/api/audit-logs/export", {"organization": "nope"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_export_and_public_key_are_for_platform_admins_only(member):
    client = client_for(member)
    assert client.get("/api/audit-logs/export").status_code == 403
    assert client.get("/api/audit-logs/public-key").status_code == 403


def test_public_key_matches_the_configured_signing_key(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from audit import signing

    seed = bytes(range(32))
    settings.AUDIT_SIGNING_KEY = base64.b64encode(seed).decode()
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signing.public_key_bytes() == expected
    assert signing.key_id() == "ed25519:" + hashlib.sha256(expected).hexdigest()[:16]


@pytest.mark.django_db
def test_the_data_migration_chains_existing_entries_in_created_at_order():
    import importlib
    import types

    from django.db.migrations.loader import MigrationLoader

    apps = MigrationLoader(connection).project_state(("audit", "0003_hash_chain_fields")).apps
    entries = _entries(4)
    # as before the chain existed: no hashes, no sequence, and written in another order than created_at
    _tamper("UPDATE audit_auditlog SET sequence = -sequence, previous_hash = '', entry_hash = ''")
    _tamper("UPDATE audit_auditlog SET created_at = created_at - interval '1 hour' WHERE id = %s", [entries[3].id])
    migration = importlib.import_module("audit.migrations.0004_chain_existing_entries")
    migration.chain_existing_entries(apps, types.SimpleNamespace(connection=connection))
    order = list(AuditLog.objects.order_by("sequence").values_list("id", flat=True))
    assert order == [entries[3].id, entries[0].id, entries[1].id, entries[2].id]
    assert verify_database().intact and verify_database().count == 4
    with pytest.raises(Exception, match="append-only"):  # the trigger is back on
        _raw("DELETE FROM audit_auditlog WHERE id = %s", [entries[0].id])
