"""The broadcast membership check (executions.events._GroupMembers) on its own connection: right answers,
a Redis restart survived, an error reply leaves nothing behind, callers on many threads.

The check's place in the broadcast path is in test_hot_path.py (empty groups are skipped, watched ones
reached). Restarts run on a throwaway redis-server: the shared Redis is never touched."""

import asyncio
import threading
import uuid

import pytest
import redis
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from bifrost_site.testing import redis_server
from executions import events

EVENT = {"type": "execution.status", "status": {"status": "Running"}}


def _layer(address: str) -> RedisChannelLayer:
    host = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], address=address)
    return RedisChannelLayer(hosts=[host], prefix=f"members-{uuid.uuid4().hex[:8]}")


def _join(layer: RedisChannelLayer, group: str) -> str:
    async def join():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        return channel

    return asyncio.run(join())


def _shared_redis_address() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]


def test_only_groups_with_a_member_are_kept_in_the_callers_order():
    layer = _layer(_shared_redis_address())
    members = events._GroupMembers(layer)
    watched, other_watched, empty = (f"execution.{uuid.uuid4()}" for _ in range(3))
    _join(layer, watched)
    _join(layer, other_watched)
    sends = [(empty, EVENT), (watched, EVENT), (other_watched, {"n": 2}), (watched, {"n": 3})]
    assert members.filter(sends) == [(watched, EVENT), (other_watched, {"n": 2}), (watched, {"n": 3})]
    assert members.filter([(empty, EVENT)]) == []


def test_an_error_reply_is_raised_and_the_next_check_starts_clean():
    layer = _layer(_shared_redis_address())
    members = events._GroupMembers(layer)
    broken, watched = f"execution.{uuid.uuid4()}", f"execution.{uuid.uuid4()}"
    _join(layer, watched)
    client = redis.Redis.from_url(_shared_redis_address())
    client.set(layer._group_key(broken), "not a sorted set")
    try:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            members.filter([(broken, EVENT), (watched, EVENT)])
    finally:
        client.delete(layer._group_key(broken))
    # the reply to the second ZCOUNT of the failed call was not left to be read as this call's answer
    assert members.filter([(broken, EVENT), (watched, EVENT)]) == [(watched, EVENT)]


def test_callers_on_many_threads_each_get_their_own_answers():
    layer = _layer(_shared_redis_address())
    members = events._GroupMembers(layer)
    watched = [f"execution.{uuid.uuid4()}" for _ in range(4)]
    for group in watched:
        _join(layer, group)
    wrong: list = []

    def ask(index: int) -> None:
        mine, empty = watched[index % 4], f"execution.{uuid.uuid4()}"
        for _ in range(50):
            answer = members.filter([(empty, EVENT), (mine, EVENT)])
            if answer != [(mine, EVENT)]:
                wrong.append(answer)

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.skipif(not redis_server.AVAILABLE, reason="needs the redis-server binary")
def test_the_check_reconnects_after_redis_restarts():
    with redis_server.throwaway_redis() as server:
        layer = _layer(server.url(3))
        members = events._GroupMembers(layer)
        group = f"execution.{uuid.uuid4()}"
        _join(layer, group)
        assert members.filter([(group, EVENT)]) == [(group, EVENT)]
        server.kill()
        server.start()
        # the kept connection's socket is stale now: the first round trip fails and is made again
        assert members.filter([(group, EVENT)]) == []  # the group went with the old server
        _join(layer, group)
        assert members.filter([(group, EVENT)]) == [(group, EVENT)]
        server.kill()
        with pytest.raises(redis.ConnectionError):  # down: the caller logs it and clients backfill
            members.filter([(group, EVENT)])
        server.start()
        _join(layer, group)
        assert members.filter([(group, EVENT)]) == [(group, EVENT)]
