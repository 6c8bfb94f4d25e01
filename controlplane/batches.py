"""Writes gathered off the long poll's path: a Start wakes every poll of a project at once, and a write per poll
in that burst would be thousands of thread hops and statements. Each event loop (a web worker) gathers the items
and writes them every `FLUSH_SECONDS`, in one call of `write` (`run_sync`). A loop that closes writes
what it gathered before it goes."""

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from django.db import DatabaseError

from controlplane.notify import run_sync

T = TypeVar("T")
logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5


class LoopBatches(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], what: str) -> None:
        self.write, self.what = write, what
        self._pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[T]] = weakref.WeakKeyDictionary()
        self._flushes: set[asyncio.Task[None]] = set()  # the loop keeps only a weak reference to its tasks

    def add(self, items: Iterable[T]) -> None:
        """Write `items` with the next batch of this event loop (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            flush = loop.create_task(self._flush_soon(loop))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        pending.extend(items)

    async def _flush_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await asyncio.sleep(FLUSH_SECONDS)
        finally:  # cancelled too: the loop is closing
            items = self._pending.pop(loop, [])
            try:
                await run_sync(self.write, items)
            except DatabaseError:
                logger.exception("could not write %d %s", len(items), self.what)
