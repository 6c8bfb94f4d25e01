"""Django's cache on Redis, failing open: while Redis is away the cache reads as empty and keeps nothing.

Throttles, the login lockout and cached page data use the cache; an outage must not turn them into 500s. So
they let requests through (nothing is counted) and cached values are worked out again, and one warning a
minute says why.
"""

import hashlib
import logging
import threading
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis import RedisError
from redis.exceptions import NoScriptError

logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60.0


class SharedRedisCacheClient(RedisCacheClient):
    """Django's client, keeping the `redis.Redis` of the first server (writes, and reads when it is the only one):
    Django's makes one on every call (its response callbacks built anew), 6 % of the web workers' GIL time in a
    re-poll storm. A `redis.Redis` is thread-safe; reads spread over replicas as in Django."""

    _servers: list[str]
    _first: Any = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if not write and len(self._servers) > 1:
            return super().get_client(key, write=write)
        if self._first is None:
            self._first = super().get_client(key, write=True)
        return self._first


# One client (its connection pools) per Redis location and process.
_clients: dict[tuple[str, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


# Add one to a counter, and make it expire if new: one command and one reply (atomic, as a script runs whole), where
# MULTI, SET NX EX, INCR, EXEC took four: the Redis client's share of a throttled request halves.
_COUNT = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"
_COUNT_SHA = hashlib.sha1(_COUNT.encode()).hexdigest()  # noqa: S324 - Redis names scripts by their SHA-1


class FailOpenRedisCache(RedisCache):
    warned_at = 0.0
    _servers: list[str]
    _options: dict[str, Any]

    @property
    def _cache(self) -> RedisCacheClient:
        """The process's client for this location. Django makes a cache backend per request (per async context),
        each with a client of its own: every request, every long poll, opened new connections to Redis."""
        location = tuple(self._servers)
        client = _clients.get(location)
        if client is None:
            with _clients_lock:
                client = _clients.setdefault(location, SharedRedisCacheClient(self._servers, **self._options))
        return client

    def _away(self, error: RedisError) -> None:
        now = time.monotonic()
        if now - FailOpenRedisCache.warned_at >= WARN_EVERY_SECONDS:
            FailOpenRedisCache.warned_at = now
            logger.warning("the cache (Redis) is away, nothing is counted or kept meanwhile: %s", error)

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter `key`, made to expire after `timeout` seconds if new: one round trip (Django's
        add and incr take three)."""
        key = self.make_and_validate_key(key)
        try:
            client = self._cache.get_client(key, write=True)
            try:
                return int(client.evalsha(_COUNT_SHA, 1, key, timeout))
            except NoScriptError:  # a Redis that has not seen the script yet (started anew, flushed)
                return int(client.eval(_COUNT, 1, key, timeout))
        except RedisError as error:
            self._away(error)
            return 0

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as error:
            self._away(error)
            return default

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as error:
            self._away(error)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        try:
            return bool(super().add(key, value, timeout, version))
        except RedisError as error:
            self._away(error)
            return False

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return int(super().incr(key, delta, version))
        except RedisError as error:
            self._away(error)
            return 0

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return bool(super().delete(key, version))
        except RedisError as error:
            self._away(error)
            return False


def count_in_window(key: str, seconds: int) -> tuple[int, float]:
    """Count one more event under `key` in the current fixed window of `seconds`: (events counted in this window,
    seconds until it ends). One atomic increment, rather than a list of the times of every event read and written
    whole; nothing is counted (0) while Redis is away. Throttles count with this."""
    now = time.time()
    window = int(now // seconds)
    counter = f"{key}:{window}"
    backend = caches["default"]
    if isinstance(backend, FailOpenRedisCache):
        count = backend.count(counter, seconds)
    else:  # the embedded mode's in-process cache
        backend.add(counter, 0, timeout=seconds)
        try:
            count = backend.incr(counter)
        except ValueError:  # the window's counter expired between add and incr
            count = 0
    return count, (window + 1) * seconds - now
