"""WebSocket consumers against the real ASGI application and the real channels-redis layer."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from bifrost_site.testing import redis_server
from executions import events
from executions.models import ExecutionLog, ExecutionStatus
from executions.tests.factories import ExecutionFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

TIMEOUT = 10  # generous: a positive wait only ever ends early


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A new channels-redis layer per test: each async test runs on its own event loop, and a layer
    keeps loop-bound state (its receive lock) from a consumer still receiving when a test ends."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="module")
def application():
    from bifrost_site.asgi import build_application

    return build_application()


@sync_to_async
def token_for(user):
    from accounts.services import tokens_issue

    return tokens_issue(user=user).access_token


async def communicator(application, path, *, user=None, token=None, headers=()):
    token = token or (await token_for(user) if user is not None else None)
    if token:
        path += ("&" if "?" in path else "?") + f"token={token}"
    return WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://testserver"), (b"host", b"testserver"), *headers]
    )


async def assert_closed_with(comm, code):
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected  # accepted first so the close code reaches the client
    message = await comm.receive_output(timeout=TIMEOUT)
    assert message == {"type": "websocket.close", "code": code}
    await comm.disconnect()


@sync_to_async
def persist(execution, levels_by_sequence):
    """Write lines (like the worker) and return them; levels_by_sequence: {sequence: level}."""
    return [
        ExecutionLog.objects.create(
            execution=execution, sequence=seq, level=level, message=f"{level} line {seq}", timestamp=timezone.now()
        )
        for seq, level in sorted(levels_by_sequence.items())
    ]


def info(*sequences):
    return dict.fromkeys(sequences, "info")


@sync_to_async
def emit(execution, lines):
    events.emit_log_lines(execution.id, lines)


@sync_to_async
def set_status(execution, status):
    execution.status = status
    execution.save(update_fields=["status", "updated_at"])
    events.emit_status(execution)


async def receive_logs(comm, count):
    messages = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(count)]
    assert all(m["type"] == "log" for m in messages), messages
    return [m["sequence"] for m in messages]


async def open_log_socket(application, execution, user, after=None):
    path = f"/ws/executions/{execution.id}/" + (f"?after={after}" if after is not None else "")
    comm = await communicator(application, path, user=user)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    status = await comm.receive_json_from(timeout=TIMEOUT)
    assert status["type"] == "status" and status["execution_id"] == str(execution.id)
    return comm, status


@pytest.fixture
def running(org, member):
    return ExecutionFactory(
        organization=org, executed_by=member, status=ExecutionStatus.RUNNING, completed_at=None, duration_ms=None
    )


# --- authentication and visibility ---


async def test_anonymous_and_bad_tokens_are_closed_4001(application, running):
    await assert_closed_with(await communicator(application, f"/ws/executions/{running.id}/"), 4001)
    await assert_closed_with(await communicator(application, f"/ws/executions/{running.id}/", token="garbage"), 4001)
    await assert_closed_with(await communicator(application, "/ws/executions/"), 4001)


async def test_invisible_executions_are_closed_4004(application, running, outsider, colleague, admin_user, other_org):
    await assert_closed_with(await communicator(application, f"/ws/executions/{running.id}/", user=outsider), 4004)
    await assert_closed_with(await communicator(application, f"/ws/executions/{running.id}/", user=colleague), 4004)
    await assert_closed_with(await communicator(application, "/ws/executions/not-a-uuid/", user=admin_user), 4004)
    missing = "00000000-0000-0000-0000-000000000000"
    await assert_closed_with(await communicator(application, f"/ws/executions/{missing}/", user=admin_user), 4004)


async def test_foreign_origin_is_refused(application, running, member):
    comm = WebsocketCommunicator(
        application,
        f"/ws/executions/{running.id}/?token={await token_for(member)}",
        headers=[(b"origin", b"http://evil.example"), (b"host", b"testserver")],
    )
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert not connected
    await comm.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (b"http://localhost:9999", b"localhost:8000"),  # another port of an allowed host
        (b"http://localhost:9999", b"testserver"),
        (b"http://testserver:9999", b"testserver"),
        (b"https://testserver", b"testserver"),  # another scheme
        (b"http://testserver", b"evil.example"),  # a Host outside ALLOWED_HOSTS (DNS rebinding)
        (b"null", b"testserver"),
    ],
)
async def test_an_origin_differing_in_scheme_host_or_port_is_refused(application, running, member, origin, host):
    comm = WebsocketCommunicator(
        application,
        f"/ws/executions/{running.id}/?token={await token_for(member)}",
        headers=[(b"origin", origin), (b"host", host)],
    )
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert not connected
    await comm.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "extra"),
    [
        (b"http://localhost:8000", b"localhost:8000", []),
        (b"https://bifrost.example", b"bifrost.example", [(b"x-forwarded-proto", b"https")]),  # behind the proxy
        (b"http://app.example:3000", b"testserver", []),  # listed in CORS_ALLOWED_ORIGINS
    ],
)
async def test_the_servers_own_origin_and_the_configured_ones_are_accepted(
    application, running, member, settings, origin, host, extra
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "bifrost.example"]
    settings.CORS_ALLOWED_ORIGINS = ["http://app.example:3000"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    comm = WebsocketCommunicator(
        application,
        f"/ws/executions/{running.id}/?token={await token_for(member)}",
        headers=[(b"origin", origin), (b"host", host), *extra],
    )
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "status"
    await comm.disconnect()


async def test_session_cookie_authenticates(application, running, admin_user):
    from django.conf import settings
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(admin_user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    comm = await communicator(application, f"/ws/executions/{running.id}/", headers=[(b"cookie", cookie)])
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    status = await comm.receive_json_from(timeout=TIMEOUT)
    assert status["status"] == "Running" and status["is_complete"] is False
    await comm.disconnect()


# --- the log stream ---


async def test_status_then_backlog_after_sequence_then_live(application, running, member):
    await persist(running, info(1, 2, 3, 4, 5))
    comm, status = await open_log_socket(application, running, member, after=2)
    assert status == {**status, "status": "Running", "is_complete": False, "duration_ms": None}
    assert await receive_logs(comm, 3) == [3, 4, 5]
    lines = await persist(running, info(6, 7))
    await emit(running, lines)
    messages = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
    assert [m["sequence"] for m in messages] == [6, 7]
    assert set(messages[0]) == {"type", "sequence", "level", "message", "timestamp", "data"}
    assert messages[0]["message"] == "info line 6"
    await comm.disconnect()


async def test_overlapping_batches_are_deduplicated(application, running, member):
    first = await persist(running, info(1, 2, 3))
    comm, _ = await open_log_socket(application, running, member)
    assert await receive_logs(comm, 3) == [1, 2, 3]
    second = await persist(running, info(4, 5))
    await emit(running, first[1:] + second[:1])  # 2, 3 (already sent from the backlog) and 4
    await emit(running, first + second)  # 1..5: only 5 is new
    assert await receive_logs(comm, 2) == [4, 5]
    third = await persist(running, info(6))
    await emit(running, third)
    assert await receive_logs(comm, 1) == [6]  # nothing duplicated came in between
    await comm.disconnect()


async def test_a_gap_is_backfilled_from_the_database(application, running, member):
    comm, _ = await open_log_socket(application, running, member)
    lines = await persist(running, info(1, 2, 3, 4))
    await emit(running, lines[3:])  # batches 1..3 were lost in transit
    assert await receive_logs(comm, 4) == [1, 2, 3, 4]
    await comm.disconnect()


async def test_reconnect_with_last_sequence_misses_nothing(application, running, member):
    comm, _ = await open_log_socket(application, running, member)
    await emit(running, await persist(running, info(1, 2, 3)))
    assert await receive_logs(comm, 3) == [1, 2, 3]
    await comm.disconnect()
    await emit(running, await persist(running, info(4, 5, 6)))  # while nobody listens
    comm, _ = await open_log_socket(application, running, member, after=3)
    assert await receive_logs(comm, 3) == [4, 5, 6]
    await emit(running, await persist(running, info(7)))
    assert await receive_logs(comm, 1) == [7]
    await comm.disconnect()


async def test_debug_and_traceback_lines_only_reach_admins(application, running, member, admin_user):
    await persist(running, {1: "info", 2: "debug", 3: "warning"})
    member_comm, _ = await open_log_socket(application, running, member)
    admin_comm, _ = await open_log_socket(application, running, admin_user)
    assert await receive_logs(member_comm, 2) == [1, 3]
    assert await receive_logs(admin_comm, 3) == [1, 2, 3]
    live = await persist(running, {4: "traceback", 5: "debug", 6: "error"})
    await emit(running, live)
    assert await receive_logs(member_comm, 1) == [6]
    assert await receive_logs(admin_comm, 3) == [4, 5, 6]
    # A hidden line at the end of the backlog is not mistaken for a gap later on.
    await emit(running, await persist(running, {7: "debug", 8: "info"}))
    assert await receive_logs(member_comm, 1) == [8]
    assert await receive_logs(admin_comm, 2) == [7, 8]
    await member_comm.disconnect()
    await admin_comm.disconnect()


async def test_completion_backfills_lost_lines_then_sends_the_final_status(application, running, member):
    comm, _ = await open_log_socket(application, running, member)
    await emit(running, await persist(running, info(1)))
    assert await receive_logs(comm, 1) == [1]
    await persist(running, info(2, 3))  # persisted, but their broadcast never happens
    await set_status(running, ExecutionStatus.SUCCESS)
    assert await receive_logs(comm, 2) == [2, 3]
    final = await comm.receive_json_from(timeout=TIMEOUT)
    assert final["type"] == "status" and final["status"] == "Success" and final["is_complete"] is True
    # After the end nothing else is sent; the socket stays open and answers pings.
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await comm.disconnect()


async def test_a_finished_execution_sends_status_and_its_whole_log(application, org, member):
    done = await sync_to_async(ExecutionFactory)(organization=org, executed_by=member, status="Failed")
    await persist(done, info(1, 2))
    comm, status = await open_log_socket(application, done, member)
    assert status["status"] == "Failed" and status["is_complete"] is True
    assert await receive_logs(comm, 2) == [1, 2]
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await comm.disconnect()


async def test_status_changes_reach_the_log_socket(application, running, member):
    comm, _ = await open_log_socket(application, running, member)
    await set_status(running, ExecutionStatus.CANCELLING)
    message = await comm.receive_json_from(timeout=TIMEOUT)
    assert message["type"] == "status" and message["status"] == "Cancelling" and message["is_complete"] is False
    await comm.disconnect()


async def test_a_stale_status_broadcast_is_not_sent(application, running, member):
    """The worker's delayed Running can reach the group after the web's Cancelling: the socket keeps the order
    of the run's life, and a retry's Pending (the next attempt) still goes through."""
    comm, _ = await open_log_socket(application, running, member)
    await set_status(running, ExecutionStatus.CANCELLING)
    await set_status(running, ExecutionStatus.RUNNING)  # stale: arrives after Cancelling
    running.attempt = 2
    await set_status(running, ExecutionStatus.PENDING)  # a retry's next attempt
    messages = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
    assert [(m["status"], m["attempt"]) for m in messages] == [("Cancelling", 1), ("Pending", 2)]
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


# --- the history socket ---


async def open_history(application, user, query=""):
    comm = await communicator(application, "/ws/executions/" + query, user=user)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    hello = await comm.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "subscribed"
    return comm, hello


async def test_history_socket_streams_statuses_in_scope(
    application, org, other_org, admin_user, member, colleague, outsider
):
    mine = await sync_to_async(ExecutionFactory)(organization=org, executed_by=member, status="Running")
    theirs = await sync_to_async(ExecutionFactory)(organization=org, executed_by=colleague, status="Running")
    foreign = await sync_to_async(ExecutionFactory)(organization=other_org, executed_by=outsider, status="Running")

    admin_all, hello = await open_history(application, admin_user)
    assert hello["scope"] == "GLOBAL"
    admin_org, hello = await open_history(application, admin_user, f"?organization_id={org.id}")
    assert hello["scope"] == str(org.id)
    member_comm, _ = await open_history(application, member)

    for execution in (foreign, theirs, mine):
        await set_status(execution, ExecutionStatus.SUCCESS)

    async def received(comm, count):
        return [(await comm.receive_json_from(timeout=TIMEOUT))["execution_id"] for _ in range(count)]

    assert await received(admin_all, 3) == [str(foreign.id), str(theirs.id), str(mine.id)]
    assert await received(admin_org, 2) == [str(theirs.id), str(mine.id)]
    # The member's first message is their own execution: the others were filtered out.
    message = await member_comm.receive_json_from(timeout=TIMEOUT)
    assert message["execution_id"] == str(mine.id) and message["status"] == "Success"
    for comm in (admin_all, admin_org, member_comm):
        await comm.disconnect()


async def test_history_socket_drops_a_stale_status_of_a_run(application, org, admin_user):
    run = await sync_to_async(ExecutionFactory)(organization=org, status="Running")
    comm, _ = await open_history(application, admin_user)
    await set_status(run, ExecutionStatus.CANCELLING)
    await set_status(run, ExecutionStatus.RUNNING)  # stale: the worker's delayed Running
    await set_status(run, ExecutionStatus.CANCELLED)
    statuses = [(await comm.receive_json_from(timeout=TIMEOUT))["status"] for _ in range(2)]
    assert statuses == ["Cancelling", "Cancelled"]
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_history_socket_refuses_other_scopes(application, org, outsider, admin_user):
    await assert_closed_with(
        await communicator(application, f"/ws/executions/?organization_id={org.id}", user=outsider), 4003
    )
    await assert_closed_with(
        await communicator(application, "/ws/executions/?organization_id=nope", user=admin_user), 4400
    )
    missing = "00000000-0000-0000-0000-000000000000"
    await assert_closed_with(
        await communicator(application, f"/ws/executions/?organization_id={missing}", user=admin_user), 4004
    )


# --- a Redis restart (issue 9, faults) ---


@pytest.fixture
def throwaway_redis_layer(settings):
    """The real channels-redis layer with the settings' host options, on a redis-server of its own
    (the shared Redis is never restarted)."""
    if not redis_server.AVAILABLE:
        pytest.skip("needs the redis-server binary")
    with redis_server.throwaway_redis() as server:
        layer = settings.CHANNEL_LAYERS["default"]
        host = dict(layer["CONFIG"]["hosts"][0], address=server.url(2))
        settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [host]}}}
        yield server


async def test_the_first_socket_after_a_redis_restart_gets_live_lines(
    application, running, member, throwaway_redis_layer
):
    server = throwaway_redis_layer
    comm, _ = await open_log_socket(application, running, member)
    await emit(running, await persist(running, info(1)))
    assert await receive_logs(comm, 1) == [1]
    await comm.disconnect()
    # This loop's pool (group_add/discard, receive) and the broadcaster's (group_send) hold idle connections.
    server.kill()
    await asyncio.sleep(0.3)  # both loops run on, as in a web process and a worker, and see them closed
    server.start()
    comm, _ = await open_log_socket(application, running, member, after=1)  # joins the group: a pooled connection
    await emit(running, await persist(running, info(2)))  # the worker's broadcast: a pooled connection
    assert await receive_logs(comm, 1) == [2]  # live: with nothing after it, a lost line would not be backfilled
    await comm.disconnect()


# --- idle sockets, heartbeats and the end of a user's session (issue 18 items 2 and 8) ---


@pytest.mark.slow
async def test_an_idle_socket_stays_open_and_still_delivers_a_line_after_30_seconds(
    application, running, member, settings
):
    """An idle consumer sits in channels-redis's 5 s blocking pop; with the Redis client's socket
    timeout at 5 s as well, such a socket died with 1011 after 6-11 s."""
    settings.WS_HEARTBEAT_SECONDS = 600  # no traffic at all while idle
    comm, _ = await open_log_socket(application, running, member)
    await asyncio.sleep(31)
    assert await comm.receive_nothing(timeout=0.5)  # still open, nothing sent (and the consumer did not crash)
    await emit(running, await persist(running, info(1)))
    assert await receive_logs(comm, 1) == [1]
    await comm.disconnect()


async def test_the_server_sends_heartbeats(application, running, member, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    comm, _ = await open_log_socket(application, running, member)
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "heartbeat"}
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "heartbeat"}
    history, _ = await open_history(application, member)
    assert await history.receive_json_from(timeout=TIMEOUT) == {"type": "heartbeat"}
    await comm.disconnect()
    await history.disconnect()


async def receive_close(comm, *, within: float = 5.0) -> int:
    """The close code, skipping whatever came before it (heartbeats); fails if none comes in time."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        message = await comm.receive_output(timeout=max(0.01, deadline - asyncio.get_running_loop().time()))
        if message["type"] == "websocket.close":
            return message["code"]


async def test_a_new_password_closes_the_users_sockets_at_once(application, running, member, outsider, settings):
    from accounts.services import user_set_password

    settings.WS_HEARTBEAT_SECONDS = 600  # the message closes them, not the heartbeat's check
    log_socket, _ = await open_log_socket(application, running, member)
    history, _ = await open_history(application, member)
    bystander, _ = await open_history(application, outsider)
    await sync_to_async(user_set_password)(user=member, password="a-new-Long-passw0rd")
    assert await receive_close(log_socket) == 4001
    assert await receive_close(history) == 4001
    assert await bystander.receive_nothing(timeout=0.5)
    for comm in (log_socket, history, bystander):
        await comm.disconnect()


async def test_a_password_changed_anywhere_closes_the_sockets_at_once(application, running, member, settings):
    """The admin site's own password page and `manage.py changepassword` save through User.set_password."""
    settings.WS_HEARTBEAT_SECONDS = 600

    def change_password():
        member.set_password("a-new-Long-passw0rd")
        member.save()

    comm, _ = await open_log_socket(application, running, member)
    await sync_to_async(change_password)()
    assert await receive_close(comm) == 4001
    await comm.disconnect()


async def test_deactivating_an_organization_closes_its_users_sockets(application, running, org, member, settings):
    from orgs.services import organization_deactivate

    settings.WS_HEARTBEAT_SECONDS = 600
    log_socket, _ = await open_log_socket(application, running, member)
    await sync_to_async(organization_deactivate)(organization=org)
    assert await receive_close(log_socket) == 4001
    await log_socket.disconnect()


async def test_a_socket_that_missed_the_message_closes_at_its_next_heartbeat(
    application, running, member, org, settings
):
    from accounts.models import User
    from orgs.models import Organization

    settings.WS_HEARTBEAT_SECONDS = 0.2
    comm, _ = await open_log_socket(application, running, member)
    await sync_to_async(User.objects.filter(id=member.id).update)(token_version=99)  # no message sent
    assert await receive_close(comm) == 4001
    await comm.disconnect()

    await sync_to_async(User.objects.filter(id=member.id).update)(token_version=0)
    comm, _ = await open_log_socket(application, running, member)
    await sync_to_async(Organization.objects.filter(id=org.id).update)(is_active=False)
    assert await receive_close(comm) == 4001
    await comm.disconnect()
