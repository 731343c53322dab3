"""`ws/workspace/jobs/<id>/`: git sync and package install output, live (DESIGN §10).

Platform admins only. On connect: the job's status, then every stored line after `?after=<sequence>`,
then live lines from the group `workspace_job.<id>`, deduplicated by sequence. Close codes:
4001 unauthenticated, 4003 not a platform admin, 4004 unknown job.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from bifrost_site.ws_auth import LiveSessionMixin
from workflows.services import jobs

BACKLOG_BATCH = 1000


@database_sync_to_async
def _job_and_backlog(job_id, after: int):
    from workflows.models import WorkspaceJob

    job = WorkspaceJob.objects.filter(id=job_id).first()
    if job is None:
        return None, []
    lines = [jobs.log_message(line) for line in job.logs.filter(sequence__gt=after).order_by("sequence")]
    return jobs.status_message(job), lines


class WorkspaceJobConsumer(LiveSessionMixin, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4001)
            return
        if not getattr(user, "is_platform_admin", False):
            await self.close(code=4003)
            return
        if not await self.session_start(user):  # heartbeats; closed when the user's sessions end
            return
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.last_sequence = max(int((query.get("after") or ["0"])[0]), 0)
        except ValueError:
            self.last_sequence = 0
        self.group = jobs.job_group(self.job_id)
        # Join first, then read the backlog: a line persisted in between arrives live and is deduplicated.
        await self.channel_layer.group_add(self.group, self.channel_name)
        status, backlog = await _job_and_backlog(self.job_id, self.last_sequence)
        if status is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=4004)
            return
        await self.send_json(status)
        for message in backlog:
            await self._send_log(message)

    async def disconnect(self, code):
        await self.session_stop()
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Clients only listen."""

    async def _send_log(self, message: dict) -> None:
        if message["sequence"] <= self.last_sequence:
            return
        self.last_sequence = message["sequence"]
        await self.send_json(message)

    async def job_event(self, event):
        message = event["event"]
        if message.get("type") == "log":
            await self._send_log(message)
        else:
            await self.send_json(message)
