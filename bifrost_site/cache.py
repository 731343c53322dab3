"""Django's Redis cache with connection pools shared by every thread of a process.

`django.core.cache.caches` hands each thread (and each ASGI request, which runs in a thread of
its own) a new cache object, and Django's RedisCacheClient keeps its connection pool on that
object: under daphne every request opened a fresh Redis connection (TCP connect, HELLO, and
redis-py reading its own version from package metadata), a few milliseconds per request for the
token revocation check alone. redis-py pools are thread-safe and reset themselves after a fork,
so one pool per (server, options) per process is enough. The `redis.Redis` client over that pool
is thread-safe too (it checks a connection out per command), and building one per cache call
(Django does) costs more than the GET it issues, so one client per pool is kept as well.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple, object] = {}
_clients: dict[int, object] = {}
_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items(), key=str)))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = _clients.get(id(pool))
        if client is None:
            with _lock:
                client = _clients.get(id(pool))
                if client is None:
                    client = _clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
