"""Uploading spooled batches: retries with backoff, what to wait for and what to give up on."""

import enum
import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from agent.client import ApiError, TransportError, UploadReply
from agent.health import ControlPlaneHealth
from agent.logs import log_event
from agent.spool import SpooledBatch


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


class Uploads(Protocol):
    """Where batches go: the control plane (`agent.client.ControlPlaneClient`), or a fake in tests."""

    def upload(self, *, project: str, trace_id: str, body: bytes) -> UploadReply: ...


class Outcome(enum.Enum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # the server had it already: a retry after a lost reply
    GONE = "gone"  # 410: the trace no longer accepts witnesses
    REJECTED = "rejected"  # refused for good (bad input, unknown trace, too large)
    INTERRUPTED = "interrupted"  # the agent gave up waiting at shutdown; the batch stays in the spool


class Uploader:
    """Sends one spooled batch until the control plane takes it or refuses it for good.

    Network errors, 5xx, 429 (after `Retry-After`) and a refused key (someone may fix it) are retried:
    the batch stays first in the spool meanwhile, so batches go out in order.
    """

    def __init__(
        self,
        sink: Uploads,
        health: ControlPlaneHealth,
        *,
        clock: Clock,
        interrupt: threading.Event,
        wake: threading.Event,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.sink = sink
        self.health = health
        self.clock = clock
        self.interrupt = interrupt
        self.wake = wake  # set to retry at once (the control plane is back) or to check `interrupt`
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rate_limited = False  # whether the last answer was 429: the reason the spool fills, if it does

    def send(self, item: SpooledBatch, *, spooled: int = 0) -> Outcome:
        """Upload until accepted or refused for good, or until `interrupt` is set (INTERRUPTED)."""
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        body = item.body()
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self.sink.upload(project=item.project, trace_id=item.trace_id, body=body)
            except ApiError as error:
                self.rate_limited = error.status == 429
                if error.status == 410:
                    log_event(logging.WARNING, "batch_dropped_trace_closed", trace_id=item.trace_id,
                              entries=item.entries, message=error.message)  # fmt: skip
                    return Outcome.GONE
                if error.status < 500 and error.status not in (401, 403, 429):
                    log_event(logging.ERROR, "batch_rejected", trace_id=item.trace_id, entries=item.entries,
                              status=error.status, message=error.message, field=error.field or "")  # fmt: skip
                    return Outcome.REJECTED
                self.health.failed(error, spooled=spooled)
                delay = error.retry_after if error.status == 429 and error.retry_after is not None else backoff.next()
            except TransportError as error:
                self.health.failed(error, spooled=spooled)
                delay = backoff.next()
            else:
                self.rate_limited = False
                self.health.ok()
                log_event(
                    logging.INFO, "batch_uploaded", trace_id=item.trace_id, batch_id=item.batch_id,
                    entries=item.entries, accepted=reply.accepted, duplicate=reply.duplicate,
                )  # fmt: skip
                return Outcome.DUPLICATE if reply.duplicate else Outcome.SENT
            log_event(logging.DEBUG, "upload_retry", batch_id=item.batch_id, attempt=attempt, retry_in=round(delay, 2))
            if self.clock.wait(self.wake, delay):
                self.wake.clear()
                if self.interrupt.is_set():
                    return Outcome.INTERRUPTED
                backoff.reset()
