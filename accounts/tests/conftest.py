"""Fixtures of the accounts tests."""

import uuid

import pytest


@pytest.fixture(autouse=True)
def _no_flushdb(monkeypatch):
    """`cache.clear()` is FLUSHDB on the shared Redis: it wipes every other Bifrost (and test run) using
    that database. Tests delete this run's keys (bifrost_site.testing.services.cleanup_cache_keys)."""
    from django.core.cache.backends.redis import RedisCache

    def refuse(self):
        raise AssertionError("cache.clear() flushes the shared Redis database; use cleanup_cache_keys()")

    monkeypatch.setattr(RedisCache, "clear", refuse)


@pytest.fixture
def lockout_store(settings):
    """The sign-in lock-out and the login throttle counted in this process's memory; a lock-out window of a day.

    Against the shared Redis (1 s socket timeout, failing open by design) a lock-out test passed only
    when every counter update answered within a second, which a busy machine does not promise; with a
    window of a day no test runs long enough to see one expire. Other tests cover the Redis store itself.
    """
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 24 * 3600
    return settings
