"""Which daemons a trace's start or stop reached: the polls that replied with it, recorded off the poll's path.

A start wakes every poll of the project at once; recording each reply would be a write per poll in that burst.
Each event loop (a web worker) gathers the replies and writes them every `FLUSH_SECONDS`, in one insert.
"""

import asyncio
import logging
import weakref
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from django.utils import timezone

from controlplane.notify import connection_release
from daemons.models import TraceReach
from traces.models import Trace

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5

# (project pk, daemon name, trace public id, change) per event loop, waiting for the next write
_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[int, str, str, str]]] = (
    weakref.WeakKeyDictionary()
)
_flushes: set[asyncio.Task[None]] = set()


def reach_acknowledge(*, project_id: int, daemon_name: str, reply: dict[str, list[Any]]) -> None:
    """Note the changes a poll's reply carries to its daemon (call from the poll, on its event loop)."""
    started = [item["trace_id"] for item in reply["activated_traces"]]
    changes = [(project_id, daemon_name, trace_id, TraceReach.Change.START) for trace_id in started]
    changes += [(project_id, daemon_name, trace_id, TraceReach.Change.STOP) for trace_id in reply["deactivated_traces"]]
    if not changes:
        return
    loop = asyncio.get_running_loop()
    pending = _pending.get(loop)
    if pending is None:
        pending = _pending[loop] = []
        flush = loop.create_task(_flush_soon(loop))
        _flushes.add(flush)  # the loop keeps only a weak reference to its tasks
        flush.add_done_callback(_flushes.discard)
    pending.extend(changes)


async def _flush_soon(loop: asyncio.AbstractEventLoop) -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    changes = _pending.pop(loop, [])
    try:
        await sync_to_async(reach_record, thread_sensitive=False)(changes)
    except DatabaseError:
        logger.exception("could not record which daemons %d trace changes reached", len(changes))


def reach_record(changes: list[tuple[int, str, str, str]]) -> None:
    """Write acknowledged changes in one insert (a daemon acknowledges a change once; repeats are ignored)."""
    try:
        ids = {trace_id for _, _, trace_id, _ in changes}
        # A daemon may name any id in its poll: only its own project's traces count.
        traces = {
            (project_id, public_id): pk
            for project_id, public_id, pk in Trace.objects.filter(public_id__in=ids).values_list(
                "project_id", "public_id", "pk"
            )
        }
        now = timezone.now()
        TraceReach.objects.bulk_create(
            [
                TraceReach(trace_id=traces[project_id, trace_id], daemon_name=daemon_name, change=change, at=now)
                for project_id, daemon_name, trace_id, change in changes
                if (project_id, trace_id) in traces
            ],
            ignore_conflicts=True,
        )
    finally:
        connection_release()
