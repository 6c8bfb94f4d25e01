"""Batching and uploading witnesses: per-trace buffers, retries with backoff, what to drop."""

import enum
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from agent.client import ApiError, TransportError, WitnessSink
from agent.logs import log_event


class Clock(Protocol):
    """Time as the agent sees it; tests pass a fake one that never really sleeps."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until `event` is set or `seconds` pass; whether the event is set."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class Backoff:
    """Exponential delays after failures: `initial`, times `factor` each time, capped at `maximum`.

    `jitter` takes up to that fraction off each delay so that many daemons don't retry in step.
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._failures = 0

    def next(self) -> float:
        """The delay before the next attempt, after one more failure."""
        delay = min(self.maximum, self.initial * self.factor**self._failures)
        self._failures += 1
        return delay * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """After a success: the next failure waits `initial` again."""
        self._failures = 0


@dataclass
class Batch:
    """Obfuscated HAR entries for one trace; `batch_id` stays the same across retries."""

    trace_id: str
    entries: list[dict[str, Any]]
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Batcher:
    """Buffers entries per trace and cuts them into batches of `batch_size`, or older than `max_delay` s.

    Live capture is bounded: beyond `max_buffered` pending entries, new ones are dropped (and counted
    by the caller) rather than growing memory while the control plane is unreachable.
    """

    def __init__(self, *, batch_size: int, max_delay: float, max_buffered: int, clock: Clock) -> None:
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.max_buffered = max_buffered
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[float, list[dict[str, Any]]]] = {}  # trace → (first entry at, entries)
        self._ready: list[Batch] = []
        self._pending = 0
        self.wakeup = threading.Event()  # set when a batch is ready to go

    @property
    def pending(self) -> int:
        """Entries buffered or in batches not yet sent."""
        return self._pending

    def add(self, trace_id: str, entries: list[dict[str, Any]], *, bounded: bool = True) -> int:
        """Buffer entries for a trace; returns how many were kept (all of them when not `bounded`)."""
        with self._lock:
            if bounded:
                entries = entries[: max(0, self.max_buffered - self._pending)]
            if not entries:
                return 0
            now = self._clock.monotonic()
            _, buffer = self._open.setdefault(trace_id, (now, []))
            buffer.extend(entries)
            self._pending += len(entries)
            if len(buffer) >= self.batch_size:
                while len(buffer) >= self.batch_size:
                    self._ready.append(Batch(trace_id, buffer[: self.batch_size]))
                    del buffer[: self.batch_size]
                self.wakeup.set()
                # what is left over starts a new batch, with its own max_delay
                self._open[trace_id] = (now, buffer)
            if not buffer:
                del self._open[trace_id]
            return len(entries)

    def seal(self, trace_id: str | None = None) -> None:
        """Make the partial batch of a trace (or of every trace) ready now, not after `max_delay`."""
        with self._lock:
            for key in [trace_id] if trace_id is not None else list(self._open):
                opened = self._open.pop(key, None)
                if opened is not None:
                    self._ready.append(Batch(key, opened[1]))
                    self.wakeup.set()

    def take(self) -> list[Batch]:
        """The batches due: full or sealed ones, and partial ones older than `max_delay`."""
        with self._lock:
            now = self._clock.monotonic()
            for key, (started, entries) in list(self._open.items()):
                if now - started >= self.max_delay:
                    del self._open[key]
                    self._ready.append(Batch(key, entries))
            ready, self._ready = self._ready, []
            self.wakeup.clear()
            return ready

    def next_due_in(self) -> float:
        """Seconds until the oldest partial batch is due (`max_delay` when there is none)."""
        with self._lock:
            if self._ready:
                return 0.0
            now = self._clock.monotonic()
            return min((self.max_delay - (now - started) for started, _ in self._open.values()), default=self.max_delay)

    def done(self, batch: Batch) -> None:
        """A batch was sent or dropped: it no longer counts as pending."""
        with self._lock:
            self._pending -= len(batch.entries)

    def put_back(self, batches: list[Batch]) -> None:
        """Batches not sent yet (the daemon is stopping) go first in line again."""
        with self._lock:
            self._ready[:0] = batches


class Outcome(enum.Enum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # the server had it already: a retry after a lost reply
    DROPPED = "dropped"  # the server refused it for good (trace closed, bad input)
    INTERRUPTED = "interrupted"  # the daemon is stopping; send it in the final flush
    GAVE_UP = "gave_up"  # the final flush ran out of time


class Uploader:
    """Sends one batch, retrying 5xx, 429 and network errors with backoff; 410 and other 4xx drop it."""

    def __init__(
        self,
        sink: WitnessSink,
        *,
        project: str,
        daemon_name: str,
        clock: Clock,
        stopping: threading.Event,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.sink = sink
        self.project = project
        self.daemon_name = daemon_name
        self.clock = clock
        self.stopping = stopping
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max

    def send(self, batch: Batch, *, deadline: float | None = None) -> Outcome:
        """Upload until it is accepted or refused for good.

        Without a `deadline` (normal running), `stopping` interrupts the retries; with one
        (the final flush, on the monotonic clock), retries go on until it would pass.
        """
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self.sink.upload(
                    project=self.project,
                    trace_id=batch.trace_id,
                    daemon_name=self.daemon_name,
                    batch_id=batch.batch_id,
                    entries=batch.entries,
                )
            except ApiError as error:
                delay = self._retry_delay(batch, error, backoff, attempt)
                if delay is None:
                    return Outcome.DROPPED
            except TransportError as error:
                delay = backoff.next()
                log_event(
                    logging.WARNING, "upload_retry", trace_id=batch.trace_id, batch_id=batch.batch_id,
                    attempt=attempt, error=error, retry_in=round(delay, 2),
                )  # fmt: skip
            else:
                log_event(
                    logging.INFO, "batch_uploaded", trace_id=batch.trace_id, batch_id=batch.batch_id,
                    entries=len(batch.entries), accepted=reply.accepted, duplicate=reply.duplicate,
                )  # fmt: skip
                return Outcome.DUPLICATE if reply.duplicate else Outcome.SENT
            if deadline is not None:
                if self.clock.monotonic() + delay > deadline:
                    log_event(logging.ERROR, "batch_given_up", trace_id=batch.trace_id, batch_id=batch.batch_id)
                    return Outcome.GAVE_UP
                self.clock.wait(threading.Event(), delay)
            elif self.clock.wait(self.stopping, delay):
                return Outcome.INTERRUPTED

    def _retry_delay(self, batch: Batch, error: ApiError, backoff: Backoff, attempt: int) -> float | None:
        """Seconds to wait before retrying after an error reply, or None to drop the batch."""
        fields: dict[str, object] = {
            "trace_id": batch.trace_id,
            "batch_id": batch.batch_id,
            "status": error.status,
            "code": error.code,
            "message": error.message,
        }
        if error.status == 429:
            delay = error.retry_after if error.retry_after is not None else backoff.next()
        elif error.status >= 500:
            delay = backoff.next()
        else:
            event = "batch_dropped_trace_closed" if error.status == 410 else "batch_dropped"
            log_event(logging.WARNING if error.status == 410 else logging.ERROR, event, entries=len(batch.entries),
                      **fields)  # fmt: skip
            return None
        log_event(logging.WARNING, "upload_retry", attempt=attempt, retry_in=round(delay, 2), **fields)
        return delay
