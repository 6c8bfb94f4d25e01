"""The cache on Redis shares its connections; the fixed-window counter every throttle counts with, on Redis (one
round trip) and in-process (embedded)."""

import asyncio
import os
import time
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient

import controlplane.cache
from controlplane.cache import FailOpenRedisCache, count_in_window


@pytest.fixture(params=["redis", "in-process"])
def backend(request: pytest.FixtureRequest, settings) -> str:
    if request.param == "redis":
        location = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        settings.CACHES = {"default": {"BACKEND": "controlplane.cache.FailOpenRedisCache", "LOCATION": location}}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    caches["default"].clear()
    return str(request.param)


def test_it_counts_per_key_in_fixed_windows_and_says_when_the_window_ends(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [120.0]
    monkeypatch.setattr(controlplane.cache, "time", SimpleNamespace(time=lambda: now[0], monotonic=time.monotonic))

    def count(key: str, at: float) -> tuple[int, float]:
        now[0] = at
        return count_in_window(key, 60)

    assert count("daemon", 120.0) == (1, 60.0)
    assert count("daemon", 121.0) == (2, 59.0)
    assert count("other", 130.0) == (1, 50.0)
    assert count("daemon", 179.5) == (3, 0.5)
    assert count("daemon", 180.0) == (1, 60.0)  # the next window starts from one


@pytest.mark.parametrize("script", ["known", "unknown"])
def test_on_redis_a_window_counter_expires_with_its_window(script: str, settings, monkeypatch) -> None:
    location = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings.CACHES = {"default": {"BACKEND": "controlplane.cache.FailOpenRedisCache", "LOCATION": location}}
    caches["default"].clear()
    if script == "unknown":  # as a Redis started anew knows no script: the counter sends it whole
        monkeypatch.setattr(controlplane.cache, "_COUNT_SHA", "0" * 40)
    assert [count_in_window("daemon", 60)[0] for _ in range(2)] == [1, 2]
    client = redis.Redis.from_url(location)
    [counter] = client.keys("*daemon*")
    assert 0 < client.ttl(counter) <= 60


def test_requests_share_the_process_redis_client(settings) -> None:
    location = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings.CACHES = {"default": {"BACKEND": "controlplane.cache.FailOpenRedisCache", "LOCATION": location}}

    async def client_of_a_request() -> RedisCacheClient:
        backend = caches["default"]  # Django makes a backend per request context
        assert isinstance(backend, FailOpenRedisCache)
        return backend._cache

    first, second = asyncio.run(client_of_a_request()), asyncio.run(client_of_a_request())
    assert first is second
    assert first.get_client(write=True) is second.get_client("key")  # one redis.Redis, not one per call
