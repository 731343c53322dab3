"""Personal API tokens on WebSockets (DESIGN §10, §17): a `bfp_…` token opens the execution sockets like an
access token, with its user's scope; a revoked or expired token, or an inactive user or organization, is
refused (4001); revoking the token closes its open sockets at once, a new password does not."""

import asyncio
import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from executions.models import ExecutionStatus
from executions.tests.factories import ExecutionFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A new channel layer per test: each async test runs on its own event loop (as executions' ws tests)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="module")
def application():
    from bifrost_site.asgi import build_application

    return build_application()


@pytest.fixture
def running(org, member):
    return ExecutionFactory(
        organization=org, executed_by=member, status=ExecutionStatus.RUNNING, completed_at=None, duration_ms=None
    )


@sync_to_async
def personal_token(user, days=30):
    from accounts.services import personal_token_create

    return personal_token_create(user=user, name="ci", expires_at=timezone.now() + datetime.timedelta(days=days))


def socket(application, path, *, token=None, bearer=None):
    if token:
        path += ("&" if "?" in path else "?") + f"token={token}"
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if bearer:
        headers.append((b"authorization", f"Bearer {bearer}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def closed_with(comm) -> int:
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected  # accepted first so the close code reaches the client
    message = await comm.receive_output(timeout=TIMEOUT)
    await comm.disconnect()
    assert message["type"] == "websocket.close", message
    return message["code"]


async def open_log(application, execution, **credentials):
    comm = socket(application, f"/ws/executions/{execution.id}/", **credentials)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    status = await comm.receive_json_from(timeout=TIMEOUT)
    assert status["type"] == "status" and status["execution_id"] == str(execution.id), status
    return comm


async def receive_close(comm, *, within: float = 5.0) -> int:
    """The close code, skipping heartbeats; fails if none comes in time."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        message = await comm.receive_output(timeout=max(0.01, deadline - asyncio.get_running_loop().time()))
        if message["type"] == "websocket.close":
            return message["code"]


async def test_a_personal_token_opens_the_log_and_history_sockets_with_its_users_scope(
    application, running, member, outsider
):
    created = await personal_token(member)
    comm = await open_log(application, running, token=created.raw_token)
    await comm.disconnect()
    comm = await open_log(application, running, bearer=created.raw_token)  # or in the handshake's header
    await comm.disconnect()
    history = socket(application, "/ws/executions/", token=created.raw_token)
    assert (await history.connect(timeout=TIMEOUT))[0]
    assert (await history.receive_json_from(timeout=TIMEOUT))["type"] == "subscribed"
    await history.disconnect()
    foreign = await personal_token(outsider)  # another organization's user: not visible
    assert await closed_with(socket(application, f"/ws/executions/{running.id}/", token=foreign.raw_token)) == 4004
    from accounts.models import PersonalToken

    assert await sync_to_async(lambda: PersonalToken.objects.get(id=created.token.id).last_used_at)()


async def test_revoked_expired_unknown_and_deactivated_tokens_are_refused(application, running, member, org):
    from accounts.models import PersonalToken
    from accounts.services import personal_token_revoke

    path = f"/ws/executions/{running.id}/"
    assert await closed_with(socket(application, path, token="bfp_" + "x" * 43)) == 4001
    revoked = await personal_token(member)
    await sync_to_async(personal_token_revoke)(token=revoked.token)
    assert await closed_with(socket(application, path, token=revoked.raw_token)) == 4001
    assert await closed_with(socket(application, path, bearer=revoked.raw_token)) == 4001
    expired = await personal_token(member)
    await sync_to_async(PersonalToken.objects.filter(id=expired.token.id).update)(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert await closed_with(socket(application, path, token=expired.raw_token)) == 4001

    valid = await personal_token(member)
    await sync_to_async(type(member).objects.filter(id=member.id).update)(is_active=False)
    assert await closed_with(socket(application, path, token=valid.raw_token)) == 4001
    await sync_to_async(type(member).objects.filter(id=member.id).update)(is_active=True)
    await sync_to_async(type(org).objects.filter(id=org.id).update)(is_active=False)
    assert await closed_with(socket(application, path, token=valid.raw_token)) == 4001


async def test_revoking_the_token_closes_its_sockets_at_once(application, running, member, settings):
    from accounts.services import personal_token_revoke

    settings.WS_HEARTBEAT_SECONDS = 600  # the message closes it, not the heartbeat's check
    created, other = await personal_token(member), await personal_token(member)
    comm = await open_log(application, running, token=created.raw_token)
    bystander = await open_log(application, running, token=other.raw_token)  # the same user's other token
    await sync_to_async(personal_token_revoke)(token=created.token)
    assert await receive_close(comm) == 4001
    assert await bystander.receive_nothing(timeout=0.5)
    await comm.disconnect()
    await bystander.disconnect()


async def test_a_new_password_closes_sign_in_sockets_but_not_a_personal_tokens(application, running, member, settings):
    from accounts.services import tokens_issue, user_set_password

    settings.WS_HEARTBEAT_SECONDS = 600
    created = await personal_token(member)
    with_token = await open_log(application, running, token=created.raw_token)
    access = await sync_to_async(lambda: tokens_issue(user=member).access_token)()
    with_access = await open_log(application, running, token=access)
    await sync_to_async(user_set_password)(user=member, password="a-new-Long-passw0rd")
    assert await receive_close(with_access) == 4001
    assert await with_token.receive_nothing(timeout=0.5)
    await with_token.disconnect()
    await with_access.disconnect()


async def test_deactivation_closes_a_personal_tokens_socket_at_once(application, running, member, settings):
    from accounts.services import user_deactivate

    settings.WS_HEARTBEAT_SECONDS = 600
    created = await personal_token(member)
    comm = await open_log(application, running, token=created.raw_token)
    await sync_to_async(user_deactivate)(user=member, by=None)
    assert await receive_close(comm) == 4001
    await comm.disconnect()


async def test_a_token_that_expires_while_open_closes_at_the_next_heartbeat(application, running, member, settings):
    from accounts.models import PersonalToken

    settings.WS_HEARTBEAT_SECONDS = 0.2
    created = await personal_token(member)
    comm = await open_log(application, running, token=created.raw_token)
    await sync_to_async(PersonalToken.objects.filter(id=created.token.id).update)(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert await receive_close(comm) == 4001
    await comm.disconnect()
