"""The daemon's loops: heartbeat, long poll, capture into active traces, upload, clean shutdown."""

import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agent import __version__
from agent.client import Activation, ApiError, PollReply, TransportError, WitnessSink
from agent.listen import CaptureResult, CaptureServer
from agent.logs import log_event
from agent.upload import Backoff, Batch, Batcher, Clock, Outcome, SystemClock, Uploader
from apimodel.har import HarError, har_entries
from apimodel.witness import redact_entry


@dataclass
class AgentConfig:
    """What `python -m agent` was told; see `agent/__main__.py` for the flags."""

    project: str
    daemon_name: str
    har_file: Path | None = None
    listen: tuple[str, int] | None = None
    batch_size: int = 200
    batch_max_delay: float = 2.0
    max_buffered_entries: int = 20_000
    poll_timeout: float = 40.0  # the server holds a poll ~25 s
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    shutdown_timeout: float = 10.0
    version: str = __version__


class ControlPlane(WitnessSink, Protocol):
    """The calls the daemon makes (`agent.client.ControlPlaneClient`)."""

    def heartbeat(self, *, daemon_name: str, version: str, projects: list[str]) -> int: ...

    def poll(self, *, project: str, daemon_name: str, active_trace_ids: list[str], timeout: float) -> PollReply: ...


@dataclass
class Stats:
    """Counters of what the daemon did with the traffic it saw; thread-safe."""

    entries_seen: int = 0
    entries_buffered: int = 0
    dropped_no_active_trace: int = 0
    dropped_sampling: int = 0
    dropped_buffer_full: int = 0
    dropped_invalid: int = 0
    batches_sent: int = 0
    batches_duplicate: int = 0
    batches_dropped: int = 0
    batches_given_up: int = 0
    entries_uploaded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: value for name, value in vars(self).items() if not name.startswith("_")}


class ActiveTraces:
    """The traces being captured, as the long poll told us, minus those past their end time.

    A trace the server re-announces after we dropped it locally (our clock runs ahead) is kept
    until the server says otherwise, so a skewed clock cannot make the poll loop spin.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traces: dict[str, Activation] = {}
        self._expired_locally: set[str] = set()

    def activate(self, trace: Activation) -> bool:
        """Start capturing a trace; False if it was already active."""
        with self._lock:
            if trace.trace_id in self._traces:
                return False
            self._traces[trace.trace_id] = trace
            return True

    def deactivate(self, trace_id: str) -> Activation | None:
        with self._lock:
            self._expired_locally.discard(trace_id)
            return self._traces.pop(trace_id, None)

    def expire(self, now: datetime) -> list[Activation]:
        """Drop (and return) the traces whose `ends_at` has passed."""
        with self._lock:
            ended = [t for t in self._traces.values() if t.ends_at <= now and t.trace_id not in self._expired_locally]
            for trace in ended:
                del self._traces[trace.trace_id]
                self._expired_locally.add(trace.trace_id)
            return ended

    def current(self) -> list[Activation]:
        with self._lock:
            return list(self._traces.values())


def load_har_entries(path: Path) -> list[Any]:
    """The entries of a HAR file; ValueError saying what is wrong."""
    try:
        return har_entries(path.read_bytes())
    except OSError as error:
        raise ValueError(f"cannot read the HAR file {path}: {error}") from error
    except HarError as error:
        raise ValueError(f"{path}: {error}") from error


# The server's own deactivation (its poll wakes at ends_at) normally comes first; this is the fallback.
EXPIRY_SLACK = timedelta(seconds=1)


class Daemon:
    """Runs the agent until `stop()`: call `run()` (blocking) from the main thread or a test's thread.

    Threads: heartbeat, long poll, uploader, and with `listen` an HTTP server for middleware.
    Entries are obfuscated (`redact_entry`) as they are captured, so values never leave the machine.
    """

    def __init__(
        self,
        config: AgentConfig,
        control_plane: ControlPlane,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.control_plane = control_plane
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.stats = Stats()
        self.traces = ActiveTraces()
        self.started = threading.Event()
        self._stopping = threading.Event()
        self._har_entries = load_har_entries(config.har_file) if config.har_file else None
        self._replayed: set[str] = set()
        self.batcher = Batcher(
            batch_size=config.batch_size,
            max_delay=config.batch_max_delay,
            max_buffered=config.max_buffered_entries,
            clock=self.clock,
        )
        self.uploader = Uploader(
            control_plane,
            project=config.project,
            daemon_name=config.daemon_name,
            clock=self.clock,
            stopping=self._stopping,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
        )
        self._server: CaptureServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """Where the capture server listens (the real port when asked for port 0)."""
        return self._server.address if self._server else None

    def stop(self) -> None:
        """Ask `run()` to flush and return; safe from a signal handler or another thread."""
        self._stopping.set()
        self.batcher.wakeup.set()

    def join(self, timeout: float) -> bool:
        """Wait for every loop to end after `stop()` (a poll in flight ends when the server replies)."""
        deadline = self.clock.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def run(self) -> None:
        """Start the loops, wait for `stop()`, then flush pending batches and return."""
        if self.config.listen:
            self._server = CaptureServer(self.config.listen, self.capture, self.status)
        loops = {"heartbeat": self._heartbeat_loop, "poll": self._poll_loop, "upload": self._upload_loop}
        if self._server:
            loops["listen"] = self._server.serve_forever
        self._threads = [threading.Thread(target=f, name=f"agent-{n}", daemon=True) for n, f in loops.items()]
        for thread in self._threads:
            thread.start()
        log_event(
            logging.INFO, "agent_started", daemon_name=self.config.daemon_name, project=self.config.project,
            version=self.config.version, listen=self._format_listen(), har=self.config.har_file or "",
        )  # fmt: skip
        self.started.set()
        try:
            while not self._stopping.wait(0.5):  # short waits keep signal handlers responsive
                pass
        finally:
            self._shutdown()

    def _format_listen(self) -> str:
        address = self.listen_address
        return f"{address[0]}:{address[1]}" if address else ""

    def _shutdown(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        upload = next(t for t in self._threads if t.name == "agent-upload")
        upload.join()
        # the poll thread may sit in a long poll; it is a daemon thread and exits with the process
        self.batcher.seal()
        deadline = self.clock.monotonic() + self.config.shutdown_timeout
        for batch in self.batcher.take():
            self._finish(batch, self.uploader.send(batch, deadline=deadline))
        log_event(logging.INFO, "agent_stopped", **self.stats.snapshot())

    def status(self) -> dict[str, Any]:
        """What the capture server's `GET /v1/status` shows."""
        return {
            "daemon_name": self.config.daemon_name,
            "project": self.config.project,
            "active_traces": [
                {"trace_id": t.trace_id, "trace_name": t.trace_name, "ends_at": t.ends_at.isoformat()}
                for t in self.traces.current()
            ],
            "pending_entries": self.batcher.pending,
            "stats": self.stats.snapshot(),
        }

    # capture

    def capture(self, entries: list[Any]) -> CaptureResult:
        """Obfuscate HAR entries and buffer them for every active trace (sampled); else drop them."""
        self._expire()
        traces = self.traces.current()
        self.stats.add(entries_seen=len(entries))
        if not traces:
            self.stats.add(dropped_no_active_trace=len(entries))
            return CaptureResult(accepted=0, dropped=len(entries), invalid=0)
        accepted = dropped = invalid = 0
        for entry in entries:
            redacted = self._redact(entry)
            if redacted is None:
                invalid += 1
                continue
            for trace in traces:
                if self.rng.random() >= trace.sampling_rate:
                    self.stats.add(dropped_sampling=1)
                elif self.batcher.add(trace.trace_id, [redacted]):
                    accepted += 1
                else:
                    dropped += 1
        self.stats.add(entries_buffered=accepted, dropped_buffer_full=dropped, dropped_invalid=invalid)
        if dropped:
            log_event(logging.WARNING, "buffer_full", dropped=dropped, pending=self.batcher.pending)
        return CaptureResult(accepted=accepted, dropped=dropped, invalid=invalid)

    def _redact(self, entry: Any) -> dict[str, Any] | None:
        if not isinstance(entry, Mapping):
            return None
        try:
            return redact_entry(entry)
        except (ValueError, TypeError, AttributeError) as error:  # InvalidEntry is a ValueError
            log_event(logging.WARNING, "entry_invalid", error=error)
            return None

    def _replay_har(self, trace: Activation) -> None:
        """The `--har` source: a trace that activates gets the file's entries (sampled)."""
        if self._har_entries is None or trace.trace_id in self._replayed:
            return
        self._replayed.add(trace.trace_id)  # a trace the server re-announces is not replayed twice
        kept = invalid = 0
        for entry in self._har_entries:
            redacted = self._redact(entry)
            if redacted is None:
                invalid += 1
            elif self.rng.random() < trace.sampling_rate:
                kept += self.batcher.add(trace.trace_id, [redacted], bounded=False)
        self.batcher.seal(trace.trace_id)
        self.stats.add(entries_seen=len(self._har_entries), entries_buffered=kept, dropped_invalid=invalid)
        log_event(logging.INFO, "har_replayed", trace_id=trace.trace_id, entries=kept, invalid=invalid)

    # loops

    def _heartbeat_loop(self) -> None:
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        interval = 20
        while not self._stopping.is_set():
            try:
                interval = self.control_plane.heartbeat(
                    daemon_name=self.config.daemon_name, version=self.config.version, projects=[self.config.project]
                )
                backoff.reset()
                delay = float(interval)
                log_event(logging.DEBUG, "heartbeat", next_in=interval)
            except (ApiError, TransportError) as error:
                delay = min(backoff.next(), float(interval))
                log_event(logging.WARNING, "heartbeat_failed", error=error, retry_in=round(delay, 2))
            self.clock.wait(self._stopping, delay)

    def _poll_loop(self) -> None:
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        while not self._stopping.is_set():
            self._expire()
            known = sorted(t.trace_id for t in self.traces.current())
            try:
                reply = self.control_plane.poll(
                    project=self.config.project,
                    daemon_name=self.config.daemon_name,
                    active_trace_ids=known,
                    timeout=self.config.poll_timeout,
                )
            except (ApiError, TransportError) as error:
                delay = backoff.next()
                # a wrong key or project needs a human; say so louder than a network blip
                fatal = isinstance(error, ApiError) and error.status in (401, 403, 404)
                level = logging.ERROR if fatal else logging.WARNING
                log_event(level, "poll_failed", error=error, retry_in=round(delay, 2))
                self.clock.wait(self._stopping, delay)
                continue
            backoff.reset()
            if not self._stopping.is_set():
                self.apply(reply)

    def apply(self, reply: PollReply) -> None:
        """Act on a poll reply: start capturing activated traces, flush and forget deactivated ones."""
        for trace_id in reply.deactivated:
            if self.traces.deactivate(trace_id) is not None:
                self.batcher.seal(trace_id)
                log_event(logging.INFO, "trace_deactivated", trace_id=trace_id)
        for trace in reply.activated:
            if self.traces.activate(trace):
                log_event(
                    logging.INFO, "trace_activated", trace_id=trace.trace_id, trace_name=trace.trace_name,
                    ends_at=trace.ends_at.isoformat(), sampling_rate=trace.sampling_rate,
                )  # fmt: skip
                self._replay_har(trace)

    def _expire(self) -> None:
        for trace in self.traces.expire(self.clock.now() - EXPIRY_SLACK):
            self.batcher.seal(trace.trace_id)
            log_event(logging.INFO, "trace_ended", trace_id=trace.trace_id)

    def _upload_loop(self) -> None:
        while not self._stopping.is_set():
            self._expire()
            batches = self.batcher.take()
            for index, batch in enumerate(batches):
                outcome = self.uploader.send(batch)
                if outcome is Outcome.INTERRUPTED:
                    self.batcher.put_back(batches[index:])
                    return
                self._finish(batch, outcome)
            self.clock.wait(self.batcher.wakeup, min(0.5, self.batcher.next_due_in()))

    def _finish(self, batch: Batch, outcome: Outcome) -> None:
        self.batcher.done(batch)
        if outcome is Outcome.SENT:
            self.stats.add(batches_sent=1, entries_uploaded=len(batch.entries))
        elif outcome is Outcome.DUPLICATE:
            self.stats.add(batches_duplicate=1)
        elif outcome is Outcome.DROPPED:
            self.stats.add(batches_dropped=1)
        else:
            self.stats.add(batches_given_up=1)
