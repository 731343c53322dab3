"""ws/workspace/jobs/<id>/: auth close codes, backlog then live lines, dedup by sequence."""

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from bifrost_site.asgi import build_application
from workflows.models import WorkspaceJob
from workflows.services import jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def connect(path, user=None):
    from conftest import client_for  # noqa: F401  (fixtures only; tokens below)

    if user is not None:
        from accounts.services import tokens_issue

        token = await database_sync_to_async(lambda: tokens_issue(user=user).access_token)()
        path = f"{path}{'&' if '?' in path else '?'}token={token}"
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    communicator = WebsocketCommunicator(build_application(), path, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


@database_sync_to_async
def make_job_with_lines(count):
    job = WorkspaceJob.objects.create(job_type="git_sync", status="running")
    recorder = jobs.JobRecorder(job)
    recorder.lines([f"line {i}" for i in range(1, count + 1)])
    return job, recorder


async def test_anonymous_is_closed_4001():
    communicator, _ = await connect(f"/ws/workspace/jobs/{uuid.uuid4()}/")
    assert (await communicator.receive_output())["code"] == 4001
    await communicator.disconnect()


async def test_non_admin_is_closed_4003(member):
    communicator, _ = await connect(f"/ws/workspace/jobs/{uuid.uuid4()}/", user=member)
    assert (await communicator.receive_output())["code"] == 4003
    await communicator.disconnect()


async def test_unknown_job_is_closed_4004(admin_user):
    communicator, _ = await connect(f"/ws/workspace/jobs/{uuid.uuid4()}/", user=admin_user)
    assert (await communicator.receive_output())["code"] == 4004
    await communicator.disconnect()


async def test_backlog_then_live_lines_without_duplicates(admin_user):
    job, recorder = await make_job_with_lines(3)
    communicator, connected = await connect(f"/ws/workspace/jobs/{job.id}/?after=1", user=admin_user)
    assert connected
    status = await communicator.receive_json_from()
    assert status["type"] == "status" and status["status"] == "running"
    backlog = [await communicator.receive_json_from() for _ in range(2)]
    assert [m["sequence"] for m in backlog] == [2, 3]
    assert backlog[0]["message"] == "line 2"

    await database_sync_to_async(recorder.line)("live line")
    live = await communicator.receive_json_from()
    assert live == {**live, "type": "log", "sequence": 4, "message": "live line"}

    # a re-broadcast of an old line (e.g. a retry) is not delivered twice
    from asgiref.sync import sync_to_async

    from workflows.models import WorkspaceJobLog

    old = await sync_to_async(WorkspaceJobLog.objects.get)(job=job, sequence=3)
    from channels.layers import get_channel_layer

    await get_channel_layer().group_send(jobs.job_group(job.id), {"type": "job.event", "event": jobs.log_message(old)})
    await database_sync_to_async(jobs.job_finish)(job, status="success", result={"commit": "abc"})
    final = await communicator.receive_json_from()
    assert final["type"] == "status" and final["status"] == "success" and final["is_complete"] is True
    assert await communicator.receive_nothing()
    await communicator.disconnect()
