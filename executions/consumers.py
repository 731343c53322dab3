"""WebSocket consumers (DESIGN §10).

`ws/executions/<id>/?after=<sequence>` follows one execution:
  1. authenticate (session or `?token=`), else close 4001; check visibility through
     `executions_visible_to` (the API's selector), else close 4004;
  2. join the group `execution.<id>` FIRST, so nothing broadcast from now on is missed;
  3. send `{"type": "status", ...}`;
  4. send every stored line after `after` from the database, in chunks;
  5. then live lines from the group, deduplicated by sequence: a line at or below the highest
     sequence already sent is dropped; a line further ahead than the next sequence first triggers
     a backfill of the gap from the database.
  When a complete status arrives, lines the broadcast may have lost are backfilled from the
  database, the final status is sent, and the consumer leaves the group; the socket stays open
  until the client closes it.

`ws/executions/` streams status changes of executions in the caller's scope (history page).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from bifrost_site.scope import RequestScope
from bifrost_site.ws_auth import LiveSessionMixin
from executions import events
from executions.selectors import (
    execution_logs_visible,
    execution_visible,
    execution_visible_in_scope,
    log_level_visible,
)

CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_NOT_FOUND = 4004
CLOSE_BAD_REQUEST = 4400
BACKLOG_CHUNK = 500


def _query_params(scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    return {key: values[-1] for key, values in parsed.items() if values}


def _authenticated_user(scope):
    user = scope.get("user")
    return user if user is not None and getattr(user, "is_authenticated", False) else None


class _GroupConsumer(LiveSessionMixin, AsyncJsonWebsocketConsumer):
    """Shared by both consumers: heartbeats and the end of the user's session (LiveSessionMixin),
    leave the joined groups on disconnect, answer pings."""

    group: str | None = None

    async def disconnect(self, code):
        await self.session_stop()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def receive_json(self, content, **kwargs):
        """Clients have nothing to say; a ping gets a pong so they can check the connection."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class ExecutionLogConsumer(_GroupConsumer):
    """Status, backlog and live log lines of one execution."""

    execution_id: str | None = None
    group: str | None = None
    request_scope: RequestScope | None = None
    last_sequence = 0
    last_status_order: tuple[int, int] | None = None
    finished = False

    async def connect(self):
        # Accept first so the close code reaches the client (a close before accept is an HTTP 403).
        await self.accept()
        user = _authenticated_user(self.scope)
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # for_user reads user.organization: a query for session users, so not on the event loop.
        self.request_scope = await database_sync_to_async(RequestScope.for_user)(user)
        execution_id = self.scope["url_route"]["kwargs"]["execution_id"]
        execution = await database_sync_to_async(execution_visible)(self.request_scope, execution_id)
        if execution is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not await self.session_start(user):
            return
        self.execution_id = str(execution.id)
        try:
            self.last_sequence = max(0, int(_query_params(self.scope).get("after", 0)))
        except ValueError:
            self.last_sequence = 0

        self.group = events.execution_group(self.execution_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Read the status after joining: a change from here on also arrives as an event.
        execution = await database_sync_to_async(execution_visible)(self.request_scope, self.execution_id)
        snapshot = events.status_message(execution)
        self.last_status_order = events.status_order(snapshot)
        await self.send_json(snapshot)
        await self._send_stored(until=None)
        if execution.is_complete:
            await self._finish()

    # --- group events (executions.events) ---

    async def execution_logs(self, event):
        if self.finished:
            return
        for line in sorted(event.get("lines", []), key=lambda item: item["sequence"]):
            sequence = line["sequence"]
            if sequence <= self.last_sequence:
                continue  # already sent (backlog overlap or a duplicate batch)
            if sequence > self.last_sequence + 1:
                await self._send_stored(until=sequence - 1)  # a gap: fill it from the database first
            if log_level_visible(line.get("level"), self.request_scope):
                await self.send_json(line)
            self.last_sequence = sequence

    async def execution_status(self, event):
        if self.finished:
            return
        status = event["status"]
        order = events.status_order(status)
        if self.last_status_order is not None and order < self.last_status_order:
            return  # a stale broadcast (e.g. a delayed Running that arrives after the web's Cancelling)
        self.last_status_order = order
        if status.get("is_complete"):
            await self._send_stored(until=None)  # lines whose broadcast was lost, before the end
            await self.send_json(status)
            await self._finish()
        else:
            await self.send_json(status)

    # --- helpers ---

    async def _finish(self):
        self.finished = True
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def _send_stored(self, *, until: int | None):
        """Send stored visible lines after `last_sequence` (up to `until`), chunk by chunk."""
        while True:
            chunk = await database_sync_to_async(self._stored_chunk)(self.last_sequence, until)
            for line in chunk:
                await self.send_json(events.log_message(line))
                self.last_sequence = line.sequence
            if len(chunk) < BACKLOG_CHUNK:
                break
        if until is not None and until > self.last_sequence:
            # Lines in the gap this user may not see (DEBUG/traceback) count as delivered.
            self.last_sequence = until

    def _stored_chunk(self, after: int, until: int | None):
        lines = execution_logs_visible(self.execution_id, self.request_scope, after=after)
        if until is not None:
            lines = lines.filter(sequence__lte=until)
        return list(lines[:BACKLOG_CHUNK])


class ExecutionHistoryConsumer(_GroupConsumer):
    """Status changes of every execution the caller may see.

    Platform admins: all organizations (`executions.all`), or one with `?organization_id=`.
    ORG users: their organization's group, filtered to the executions they started.
    """

    group: str | None = None
    request_scope: RequestScope | None = None
    # the latest status order sent per execution, for the runs this socket saw recently
    RECENT_RUNS = 2048

    async def connect(self):
        self.status_orders: OrderedDict[str, tuple[int, int]] = OrderedDict()
        await self.accept()
        user = _authenticated_user(self.scope)
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        raw_org = _query_params(self.scope).get("organization_id", "").strip()
        organization = None
        if raw_org:
            try:
                org_id = uuid.UUID(raw_org)
            except ValueError:
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            if not user.is_platform_admin:
                if org_id != user.organization_id:
                    await self.close(code=CLOSE_FORBIDDEN)
                    return
            else:
                organization = await database_sync_to_async(_active_organization)(org_id)
                if organization is None:
                    await self.close(code=CLOSE_NOT_FOUND)
                    return
        self.request_scope = await database_sync_to_async(RequestScope.for_user)(user, organization)
        if self.request_scope.organization_id is None:
            if not user.is_platform_admin:  # an ORG user always has an organization; be safe anyway
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.group = events.HISTORY_GROUP_GLOBAL
        else:
            self.group = events.history_group(self.request_scope.organization_id)
        if not await self.session_start(user):
            self.group = None
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "subscribed", "scope": self.request_scope.label})

    async def execution_status(self, event):
        status = event["status"]
        if not execution_visible_in_scope(
            organization_id=status.get("organization_id"),
            executed_by_id=status.get("executed_by_id"),
            scope=self.request_scope,
        ):
            return
        execution_id, order = status.get("execution_id"), events.status_order(status)
        previous = self.status_orders.pop(execution_id, None)
        if previous is not None and order < previous:
            self.status_orders[execution_id] = previous
            return  # a stale broadcast (see ExecutionLogConsumer.execution_status)
        self.status_orders[execution_id] = order
        if len(self.status_orders) > self.RECENT_RUNS:
            self.status_orders.popitem(last=False)
        await self.send_json(status)

    async def execution_logs(self, event):
        """History sockets never receive log events; ignore any that arrive."""


def _active_organization(org_id):
    from orgs.models import Organization

    return Organization.objects.filter(id=org_id, is_active=True).first()
