"""Wake long polls when a project's traces change.

Writers call `project_changed` after commit. Pollers hold a `project_subscription`: in-process
events, fed by one Redis pub/sub listener per event loop when REDIS_URL is set (several web
processes), or directly by the writer in the single-process embedded mode.
"""

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)
CHANNEL_PREFIX = "pawprint:project:"


class LocalHub:
    """Events of the pollers in this process, by project; safe to notify from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)

    def add(self, project_id: int, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiters[project_id].add(waiter)

    def discard(self, project_id: int, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            waiters = self._waiters.get(project_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[project_id]

    def notify(self, project_id: int) -> None:
        with self._lock:
            waiters = list(self._waiters.get(project_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)


hub = LocalHub()
# One Redis listener per event loop (a web worker has one loop; tests start many).
_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Task[None], asyncio.Event]] = (
    weakref.WeakKeyDictionary()
)


def project_changed(project_id: int) -> None:
    """Tell every poller of the project to look again (call after the change is committed)."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.publish(f"{CHANNEL_PREFIX}{project_id}", b"1")
        except redis.RedisError:
            logger.exception("could not publish a project change; pollers learn it on their next poll")
        finally:
            client.close()
    else:
        hub.notify(project_id)


async def _listen(ready: asyncio.Event) -> None:
    """Forward Redis project messages to this process's pollers; reconnects after errors."""
    while True:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                ready.set()
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        channel = message["channel"].decode()
                        hub.notify(int(channel.removeprefix(CHANNEL_PREFIX)))
        except (redis.RedisError, OSError):
            ready.clear()
            logger.exception("Redis listener lost its connection; retrying")
            await asyncio.sleep(1)
        finally:
            await client.aclose()


async def _ensure_listener() -> None:
    loop = asyncio.get_running_loop()
    listener = _listeners.get(loop)
    if listener is None or listener[0].done():
        ready = asyncio.Event()
        listener = (loop.create_task(_listen(ready)), ready)
        _listeners[loop] = listener
    await asyncio.wait_for(listener[1].wait(), timeout=5)


@contextlib.asynccontextmanager
async def project_subscription(project_id: int) -> AsyncIterator[asyncio.Event]:
    """An event set when the project changes; subscribe before reading state, so no change is missed."""
    if settings.REDIS_URL:
        await _ensure_listener()
    waiter = (asyncio.get_running_loop(), asyncio.Event())
    hub.add(project_id, waiter)
    try:
        yield waiter[1]
    finally:
        hub.discard(project_id, waiter)
