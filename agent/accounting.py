"""What became of every entry the agent saw, per project: received, uploaded, waiting, or dropped and why.

Drop reasons (the keys of every `dropped` map the agent sends; the middleware reports the first three):

- `queue_full`: the middleware's in-process queue was full (the app was faster than the agent took entries).
- `agent_unreachable`: the middleware could not deliver to the agent (down, refusing, or too slow) in time.
- `capture_failed`: the middleware could not turn a request into an entry.
- `invalid_entry`: the agent could not read an entry as a HAR 1.2 entry.
- `sampled_out`: left out on purpose by the trace's sampling rate.
- `buffer_full`: the agent's memory cap (`--max-memory-mb`) was reached before the spool took the entries.
- `spool_full`: the on-disk spool (`--spool-max-mb`) was full: the control plane was unreachable for too long.
- `rate_limited`: the spool was full while the control plane answered 429 (raise the server's `INGEST_RATE`).
- `rejected`: the control plane refused a batch for good (4xx other than 410 and 429).
- `trace_closed`: the trace no longer accepts witnesses (410, or events later than the grace period).
- `unknown_trace`: events for a trace name the agent never learnt from the control plane.
"""

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ProjectCounts:
    """Entries of one project: `received` = `uploaded` + `buffered` + `spooled` + the agent's own drops."""

    received: int = 0
    uploaded: int = 0
    buffered: int = 0  # in memory, in a batch not yet spooled
    spooled: int = 0  # on disk, not yet accepted by the control plane
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "uploaded": self.uploaded,
            "pending": self.buffered + self.spooled,
            "dropped": {reason: count for reason, count in sorted(self.dropped.items()) if count},
        }


class Accounting:
    """Thread-safe counters since `since` (the agent's start), reported with every heartbeat as `traffic`."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self._lock = threading.Lock()
        self._projects: dict[str, ProjectCounts] = {}

    def _counts(self, project: str) -> ProjectCounts:
        return self._projects.setdefault(project, ProjectCounts())

    def add(self, project: str, *, received: int = 0, uploaded: int = 0, buffered: int = 0, spooled: int = 0) -> None:
        """Move entries between states (negative numbers leave a state)."""
        with self._lock:
            counts = self._counts(project)
            counts.received += received
            counts.uploaded += uploaded
            counts.buffered += buffered
            counts.spooled += spooled

    def drop(self, project: str, dropped: Mapping[str, int]) -> None:
        """Count lost entries by reason."""
        with self._lock:
            self._counts(project).dropped.update(dropped)

    def project(self, project: str) -> dict[str, Any]:
        with self._lock:
            return self._counts(project).as_dict()

    def traffic(self) -> list[dict[str, Any]]:
        """The heartbeat's `traffic` field: one item per project, totals since `since`."""
        since = self.since.isoformat().replace("+00:00", "Z")
        with self._lock:
            return [
                {"project": name, "since": since, **counts.as_dict()} for name, counts in sorted(self._projects.items())
            ]
