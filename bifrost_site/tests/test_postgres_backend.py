"""The health check polls the socket first: no round trip for a quiet connection, a real check otherwise."""

import time

import psycopg
import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db(transaction=True)


def test_backend_is_in_use():
    assert connection.vendor == "postgresql"
    assert type(connections["default"]).__module__ == "bifrost_site.postgres_backend.base"


def test_quiet_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()
    sent = []
    real_cursor = connection.connection.cursor
    monkeypatch.setattr(connection.connection, "cursor", lambda *a, **k: sent.append(1) or real_cursor(*a, **k))
    assert connection.is_usable() is True
    assert sent == []


def test_connection_terminated_by_the_server_is_detected_and_replaced():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not exit"
            time.sleep(0.01)
    # the server closed the socket: the poll sees it and the fallback check fails
    assert connection.is_usable() is False
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_pending_notice_falls_back_to_select_1(monkeypatch):
    connection.ensure_connection()
    from bifrost_site.postgres_backend import base

    monkeypatch.setattr(base, "socket_is_quiet", lambda fileno: False)
    assert connection.is_usable() is True  # SELECT 1 answered


def _dsn() -> str:
    s = connection.settings_dict
    return f"host={s['HOST'] or 'localhost'} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"


def test_bound_cursor_binds_on_the_server_and_gets_prepared():
    from bifrost_site.postgres_backend.base import bound_cursor

    sql = "SELECT %s::text || '-bound'"
    for value in range(8):
        with bound_cursor(connection) as cursor:
            cursor.execute(sql, [str(value)])
            assert cursor.fetchone()[0] == f"{value}-bound"
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%-bound%"])
        assert cursor.fetchall() == [("SELECT $1::text || '-bound'",)]  # placeholders sent as $1, prepared


def test_bound_cursor_errors_are_django_errors():
    from django.db.utils import ProgrammingError

    from bifrost_site.postgres_backend.base import bound_cursor

    with pytest.raises(ProgrammingError), bound_cursor(connection) as cursor:
        cursor.execute("SELECT * FROM no_such_table WHERE id = %s", [1])
