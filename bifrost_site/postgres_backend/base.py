"""Django's PostgreSQL backend with a health check that costs no round trip when it can.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request on a
persistent connection: a round trip to PostgreSQL on each API call. A healthy idle connection has
nothing to read; one the server closed (restart, idle timeout, terminated backend) has an EOF or an
error waiting in the socket. So the check first polls the socket without blocking: nothing
readable means usable; anything else (EOF, a notice, a parameter change) falls back to Django's
`SELECT 1`, which consumes or fails on it.

A connection that dies silently (a network partition without a FIN) passes the poll, exactly as it
could die just after a `SELECT 1`: the query then fails as it would have anyway.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


def socket_is_quiet(fileno: int) -> bool:
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status == pq.TransactionStatus.IDLE:
            try:
                if socket_is_quiet(connection.fileno()):
                    return True
            except (OSError, ValueError):
                return False
        return super().is_usable()

    _bind_on_server = False

    def bound_cursor(self):
        """A cursor whose parameters are bound by the server, for the few statements of the hot path.

        Django's default cursor quotes every parameter into the SQL text in Python; this one sends
        them separately, so the statement text stays the same from call to call and psycopg
        prepares it on the server after `prepare_threshold` uses (parse and plan once per
        connection). Only for statements written for it (Django does not promise that every ORM
        query can be prepared, ticket #20516): the kept queries and the execution transitions.
        Otherwise it is Django's `cursor()`: health check, query logging, error translation, time zone.
        """
        self._bind_on_server = True
        try:
            return self.cursor()
        finally:
            self._bind_on_server = False

    def create_cursor(self, name=None):
        if name is None and self._bind_on_server:
            # This wrapper and its connection belong to one thread: the factory swap is not shared.
            factory, self.connection.cursor_factory = self.connection.cursor_factory, base.ServerBindingCursor
            try:
                return super().create_cursor()
            finally:
                self.connection.cursor_factory = factory
        return super().create_cursor(name)


def bound_cursor(connection):
    """`connection.bound_cursor()` on PostgreSQL with this backend, else the ordinary cursor."""
    make = getattr(connection, "bound_cursor", None)
    return make() if make is not None else connection.cursor()
