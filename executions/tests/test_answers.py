"""A task's answer (executions.answers): concurrent callers wait side by side, a Redis restart is
survived, and a Redis that is down raises quickly for the callers to fall back on the row.

The answer's place in the sync execute is in test_run_path.py. Restarts run on a throwaway
redis-server: the shared Redis is never touched."""

import threading
import time
import uuid

import pytest
import redis

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
        # the client's pooled connection holds a stale socket now
        answers.push_answer(task_id, {"status": "Failed"})
        assert answers.wait_answer(task_id, timeout=1) == {"status": "Failed"}
        server.kill()
        down = time.monotonic()
        with pytest.raises(redis.ConnectionError):  # the worker logs it; the caller reads the row
            answers.push_answer(task_id, {"status": "Success"})
        with pytest.raises(redis.ConnectionError):
            answers.wait_answer(task_id, timeout=0.1)
        assert time.monotonic() - down < 5  # no long back-off: the caller goes to the row at once
        server.start()
        answers.push_answer(task_id, {"status": "Success"})
        assert answers.wait_answer(task_id, timeout=1) == {"status": "Success"}
