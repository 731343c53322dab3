"""A sync run's answer (executions.answers) on the process's own Redis connections
(bifrost_site.redis_direct): concurrent callers wait side by side, a Redis restart is survived,
and a Redis that is down raises for the callers to fall back on the row.

The answer's place in the sync execute is in test_hot_path.py. Restarts run on a throwaway
redis-server: the shared Redis is never touched."""

import threading
import time
import uuid

import pytest
import redis

from bifrost_site.redis_direct import DirectConnection
from bifrost_site.testing import redis_server
from executions import answers


def test_callers_on_many_threads_wait_side_by_side_and_each_gets_its_own_answer(settings):
    settings.SYNC_ANSWER_POLL_SECONDS = 5
    task_ids = [f"t-{uuid.uuid4()}" for _ in range(6)]
    got: dict[str, dict | None] = {}

    def wait(task_id: str) -> None:
        got[task_id] = answers.wait_answer(task_id, timeout=5)

    threads = [threading.Thread(target=wait, args=(task_id,)) for task_id in task_ids]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every caller is blocked in its BLPOP now
    started = time.monotonic()
    for index, task_id in enumerate(reversed(task_ids)):
        answers.push_answer(task_id, {"status": "Success", "n": index})
    for thread in threads:
        thread.join(timeout=10)
    # one blocking pop per thread: had they shared a connection, each would wait for the one before
    assert time.monotonic() - started < 2
    assert got == {task_id: {"status": "Success", "n": len(task_ids) - 1 - i} for i, task_id in enumerate(task_ids)}


def test_an_error_reply_is_raised_and_the_next_round_trip_starts_clean(settings):
    connection = DirectConnection(settings.REDIS_RESULTS_URL, socket_timeout=2)
    key = f"{settings.REDIS_KEY_PREFIX}:direct:{uuid.uuid4()}"
    connection.round_trip([("SET", key, "a string")])
    try:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            connection.round_trip([("RPUSH", key, "x"), ("GET", key)])
        assert connection.round_trip([("GET", key), ("EXISTS", key)]) == [b"a string", 1]
    finally:
        connection.round_trip([("DEL", key)])


@pytest.mark.skipif(not redis_server.AVAILABLE, reason="needs the redis-server binary")
def test_answers_survive_a_redis_restart_and_raise_while_it_is_down(settings):
    settings.SYNC_ANSWER_POLL_SECONDS = 1
    with redis_server.throwaway_redis() as server:
        settings.REDIS_RESULTS_URL = server.url(2)
        task_id = f"t-{uuid.uuid4()}"
        answers.push_answer(task_id, {"status": "Success"})
        assert answers.wait_answer(task_id, timeout=1) == {"status": "Success"}
        server.kill()
        server.start()
        # both kept connections (this thread's, for push and pop) hold stale sockets now
        answers.push_answer(task_id, {"status": "Failed"})
        assert answers.wait_answer(task_id, timeout=1) == {"status": "Failed"}
        server.kill()
        with pytest.raises(redis.ConnectionError):  # the worker logs it; the caller reads the row
            answers.push_answer(task_id, {"status": "Success"})
        with pytest.raises(redis.ConnectionError):
            answers.wait_answer(task_id, timeout=0.1)
        server.start()
        answers.push_answer(task_id, {"status": "Success"})
        assert answers.wait_answer(task_id, timeout=1) == {"status": "Success"}
