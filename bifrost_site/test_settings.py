"""Settings for the test suite: the real services, isolated per test run.

Each run gets its own Redis key prefix and RabbitMQ queue names, so two runs on one
machine (or a developer's server next to CI) never see each other's messages.
"""

import os
import uuid

os.environ.setdefault("ENVIRONMENT", "testing")
os.environ.setdefault("DEV_AUTH_BYPASS", "false")
_run_id = os.environ.setdefault("BIFROST_TEST_RUN_ID", uuid.uuid4().hex[:10])
os.environ.setdefault("REDIS_KEY_PREFIX", f"test-{_run_id}")
os.environ.setdefault("QUEUE_PREFIX", f"test-{_run_id}.")
os.environ.setdefault("WORKSPACE_WATCH", "false")
os.environ.setdefault("DISCOVER_ON_WORKER_START", "false")

from bifrost_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(  # noqa: F405
    "TEST_DATABASE_NAME",
    "test_" + DATABASES["default"]["NAME"],  # noqa: F405
)
