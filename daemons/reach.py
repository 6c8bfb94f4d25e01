"""Which daemons a trace's start or stop reached: the polls that replied with it, recorded off the poll's path.

A start wakes every poll of the project at once; recording each reply would be a write per poll in that burst.
Each event loop (a web worker) gathers the replies and writes them every `FLUSH_SECONDS`, in one
insert (`controlplane.batches`).
"""

from typing import Any

from django.utils import timezone

from controlplane.batches import LoopBatches
from daemons.models import TraceReach
from traces.models import Trace


def reach_acknowledge(*, project_id: int, daemon_name: str, reply: dict[str, list[Any]]) -> None:
    """Note the changes a poll's reply carries to its daemon (call from the poll, on its event loop)."""
    started = [item["trace_id"] for item in reply["activated_traces"]]
    changes = [(project_id, daemon_name, trace_id, TraceReach.Change.START) for trace_id in started]
    changes += [(project_id, daemon_name, trace_id, TraceReach.Change.STOP) for trace_id in reply["deactivated_traces"]]
    if changes:
        _acknowledged.add(changes)


def reach_record(changes: list[tuple[int, str, str, str]]) -> None:
    """Write acknowledged changes in one insert (a daemon acknowledges a change once; repeats are ignored)."""
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


# (project pk, daemon name, trace public id, change)
_acknowledged: LoopBatches[tuple[int, str, str, str]] = LoopBatches(reach_record, "trace reach acknowledgements")
