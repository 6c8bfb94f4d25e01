"""Witnesses of obfuscated entries wait here, per trace, until a batch is full or old enough to go to the spool.

Memory is capped: every entry held takes its size from a `MemoryBudget`, given back once its batch is on disk.
"""

import json
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from apimodel.witness_form import WITNESS_FORMAT


class Clock(Protocol):
    """Time as the agent sees it; tests pass a fake one."""

    def monotonic(self) -> float: ...


class MemoryBudget:
    """Bytes the agent may hold for traffic: request bodies being read and entries not yet spooled."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def try_acquire(self, size: int, freeing: int = 0) -> bool:
        """Give back `freeing` bytes (held for what this replaces), then take `size` bytes if they fit under the
        limit; False (and nothing taken) if not."""
        with self._lock:
            self._used -= freeing
            if self._used + size > self.limit:
                return False
            self._used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self._used -= size


@dataclass
class Batch:
    """Encoded witnesses (`agent.redact.encode_entry`, one per entry) of one trace plus the entries of that trace
    lost since its previous batch (`dropped`).

    `batch_id` stays the same across retries, so the control plane counts a batch, and its drops, once.
    """

    project: str
    trace_id: str
    entries: list[bytes] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    size: int = 0  # bytes taken from the memory budget
    started: float = 0.0
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def body(self, daemon_name: str) -> bytes:
        """The upload body: `{daemon_name, batch_id, witness_format, witnesses, dropped?}` as JSON (the witnesses
        are spliced in as they are)."""
        head: dict[str, object] = {
            "daemon_name": daemon_name,
            "batch_id": self.batch_id,
            "witness_format": WITNESS_FORMAT,
        }
        if +self.dropped:
            head["dropped"] = dict(sorted((+self.dropped).items()))
        start = json.dumps(head, separators=(",", ":")).encode()[:-1]
        return start + b',"witnesses":[' + b",".join(self.entries) + b"]}"


class Batcher:
    """Open batches per trace, cut at `batch_size` entries or `batch_bytes`, or once `max_delay` seconds old."""

    def __init__(
        self, *, batch_size: int, batch_bytes: int, max_delay: float, budget: MemoryBudget, clock: Clock
    ) -> None:
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.max_delay = max_delay
        self.budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, Batch] = {}
        self._ready: list[Batch] = []
        self.wakeup = threading.Event()  # set when a batch is ready

    def _batch(self, project: str, trace_id: str) -> Batch:
        batch = self._open.get(trace_id)
        if batch is None:
            batch = self._open[trace_id] = Batch(project, trace_id, started=self._clock.monotonic())
        return batch

    def add(self, project: str, trace_id: str, entry: bytes, freeing: int = 0) -> bool:
        """Hold one encoded entry; False when the memory budget has no room for it (`freeing` bytes are given
        back to it first, either way)."""
        if not self.budget.try_acquire(len(entry), freeing):
            return False
        with self._lock:
            batch = self._batch(project, trace_id)
            batch.entries.append(entry)
            batch.size += len(entry)
            if len(batch.entries) >= self.batch_size or batch.size >= self.batch_bytes:
                self._ready.append(self._open.pop(trace_id))
                self.wakeup.set()
        return True

    def add_drops(self, project: str, trace_id: str, dropped: Mapping[str, int]) -> None:
        """Count lost entries of a trace; the next batch of the trace reports them (an empty one if need be)."""
        with self._lock:
            self._batch(project, trace_id).dropped.update(dropped)

    def seal(self, trace_id: str | None = None) -> None:
        """Make the open batch of a trace (or of every trace) ready now."""
        with self._lock:
            for key in [trace_id] if trace_id is not None else list(self._open):
                batch = self._open.pop(key, None)
                if batch is not None:
                    self._ready.append(batch)
                    self.wakeup.set()

    def take(self) -> list[Batch]:
        """The batches due: full or sealed ones, and open ones older than `max_delay`."""
        with self._lock:
            now = self._clock.monotonic()
            for key, batch in list(self._open.items()):
                if now - batch.started >= self.max_delay:
                    self._ready.append(self._open.pop(key))
            ready, self._ready = self._ready, []
            self.wakeup.clear()
            return ready

    def next_due_in(self) -> float:
        """Seconds until the oldest open batch is due (`max_delay` when there is none)."""
        with self._lock:
            if self._ready:
                return 0.0
            now = self._clock.monotonic()
            return min((self.max_delay - (now - b.started) for b in self._open.values()), default=self.max_delay)
