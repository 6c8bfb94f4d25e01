"""The agent: heartbeat, one long poll per project, the middleware protocol, obfuscation, spool and upload.

Entries travel: middleware → `events()` (obfuscated, sampled) → `Batcher` (memory, capped) → `Spool` (disk,
capped) → `Uploader` (in order, retried) → control plane. Every entry lost on the way is counted by reason
(`agent.accounting`), per trace with the next batch of the trace and per project with the heartbeat.
"""

import gzip
import json
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from agent import __version__
from agent.accounting import Accounting
from agent.batches import Batch, Batcher, MemoryBudget
from agent.client import Activation, ApiError, MiddlewareClient, PollReply, TransportError
from agent.health import ControlPlaneHealth
from agent.listen import Answer, MiddlewareServer
from agent.logs import EveryMinute, log_event
from agent.projects import Project, ProjectState
from agent.redact import Redactor, encode_entry
from agent.spool import Spool, SpooledBatch, SpoolFull
from agent.upload import Backoff, Clock, Outcome, SystemClock, Uploader, Uploads
from apimodel.har import HarError, har_entries

MIB = 1024 * 1024
# a middleware client counts as connected while it polls, and for this long after its last contact
CLIENT_SEEN_WITHIN = timedelta(seconds=60)
DROP_REASON_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
# the reply to an events call taken; one object, never changed, which the middleware server encodes once
TAKEN = {"trace_event_details": {"drops": 0}}


@dataclass
class AgentConfig:
    """What `pawprint-agent` was told; see `agent/__main__.py` for the flags."""

    daemon_name: str
    spool_dir: Path
    projects: list[str] = field(default_factory=list)
    listen: tuple[str, int] | None = ("127.0.0.1", 50080)
    har_file: Path | None = None
    spool_max_bytes: int = 256 * MIB
    max_memory_bytes: int = 64 * MIB
    batch_size: int = 200
    batch_bytes: int = 2 * MIB  # uncompressed; the server takes up to 5 MiB
    batch_max_delay: float = 2.0
    poll_timeout: float = 40.0  # the server holds a poll ~25 s
    middleware_hold: float = 30.0  # an idle middleware poll is answered with an empty diff after this long
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    shutdown_timeout: float = 10.0
    redact_in_worker: bool = True  # False: obfuscate on the middleware server's capture thread
    version: str = __version__


@dataclass(frozen=True)
class Capture:
    """Entries of an events call answered 202, to obfuscate (unless the middleware did), sample and batch."""

    project: str
    trace: Activation
    body: bytes  # as it came: JSON with a list `trace_events`
    redacted: bool
    reported: Counter[str]  # what the middleware says it lost


class ControlPlane(Uploads, Protocol):
    """The calls the agent makes (`agent.client.ControlPlaneClient`)."""

    def heartbeat(
        self,
        *,
        daemon_name: str,
        version: str,
        projects: list[str],
        middleware: list[MiddlewareClient],
        traffic: list[dict[str, Any]],
    ) -> int: ...

    def poll(self, *, project: str, daemon_name: str, active_trace_ids: list[str], timeout: float) -> PollReply: ...


def load_har_entries(path: Path) -> list[Any]:
    """The entries of a HAR file; ValueError saying what is wrong."""
    try:
        return har_entries(path.read_bytes())
    except OSError as error:
        raise ValueError(f"cannot read the HAR file {path}: {error}") from error
    except HarError as error:
        raise ValueError(f"{path}: {error}") from error


def denied_project(error: Exception, projects: list[str], middleware: list[MiddlewareClient]) -> str | None:
    """The project a heartbeat was refused for (400 on `projects[i]` or `middleware[i].project`), if that was why."""
    if not isinstance(error, ApiError) or error.status != 400:
        return None
    match = re.fullmatch(r"(projects|middleware)\[(\d+)\].*", error.field or "")
    if match is None:
        return None
    names = projects if match[1] == "projects" else [m.project for m in middleware]
    index = int(match[2])
    return names[index] if index < len(names) else None


def drop_counts(value: object) -> Counter[str]:
    """A middleware's `dropped` map (`{"queue_full": 3}`), keeping only well-formed reasons and counts."""
    counts: Counter[str] = Counter()
    if isinstance(value, dict):
        for reason, count in value.items():
            valid_reason = isinstance(reason, str) and 0 < len(reason) <= 40 and set(reason) <= DROP_REASON_CHARS
            if valid_reason and isinstance(count, int) and not isinstance(count, bool) and count > 0:
                counts[reason] += count
    return counts


class Daemon:
    """Runs the agent until `stop()`: call `run()` (blocking) from the main thread or a test's thread.

    Threads: heartbeat, a long poll per project, the middleware server, the spooler (cuts batches, writes them
    to disk) and the uploader (sends the spool in order).
    """

    def __init__(
        self,
        config: AgentConfig,
        control_plane: ControlPlane,
        *,
        url: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.control_plane = control_plane
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.accounting = Accounting(since=self.clock.now())
        self._wake_uploads = threading.Event()
        self.health = ControlPlaneHealth(url, recovered=self._wake_uploads)
        self.budget = MemoryBudget(config.max_memory_bytes)
        self.batcher = Batcher(
            batch_size=config.batch_size,
            batch_bytes=config.batch_bytes,
            max_delay=config.batch_max_delay,
            budget=self.budget,
            clock=self.clock,
        )
        self.spool = Spool(config.spool_dir, config.spool_max_bytes)
        self.started = threading.Event()
        self._stopping = threading.Event()
        self._abort_uploads = threading.Event()
        self._spooled = threading.Event()  # wakes the uploader
        self._spooler_done = threading.Event()
        self._intake_closed = threading.Event()  # no more entries will come: the spooler flushes and ends
        self._heartbeat_due = threading.Event()  # set for an early heartbeat: a new middleware client, or stopping
        self.uploader = Uploader(
            control_plane,
            self.health,
            clock=self.clock,
            interrupt=self._abort_uploads,
            wake=self._wake_uploads,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
        )
        self.redactor = Redactor(in_worker=config.redact_in_worker)
        self._har_entries = load_har_entries(config.har_file) if config.har_file else None
        self._replayed: set[str] = set()
        self._projects: dict[str, Project] = {}
        self._projects_lock = threading.Lock()
        self._running = False  # projects start their long poll once the daemon runs
        self._every_minute = EveryMinute()
        self._server: MiddlewareServer | None = None
        self._threads: list[threading.Thread] = []

    # life cycle

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """Where the middleware server listens (the real port when asked for port 0)."""
        return self._server.address if self._server else None

    def stop(self) -> None:
        """Ask `run()` to flush and return; safe from a signal handler or another thread."""
        self._stopping.set()

    def join(self, timeout: float) -> bool:
        """Wait for every thread to end after `stop()` (a poll in flight ends when the server replies)."""
        deadline = self.clock.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _start(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"agent-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def run(self) -> None:
        """Start everything, wait for `stop()`, then flush to the spool, upload what it can and return.

        Raises SpoolError (the spool folder is taken or unusable) or OSError (the listen port is taken).
        """
        for item in self.spool.open():
            self.accounting.add(item.project, spooled=item.entries)
        try:
            if self.config.listen:
                self._server = MiddlewareServer(self.config.listen, self)
        except OSError:
            self.spool.close()
            raise
        if len(self.spool):
            log_event(logging.INFO, "spool_replay", batches=len(self.spool), bytes=self.spool.size)
        with self._projects_lock:
            self._running = True
            for project in self._projects.values():
                self._start(f"poll-{project.name}", self._poll_loop, project)
        for name in self.config.projects:
            self.project(name, listed=True)
        self._start("heartbeat", self._heartbeat_loop)
        self._start("spool", self._spool_loop)
        self._start("upload", self._upload_loop)
        if self._server:
            self._start("listen", self._server.serve_forever)
        log_event(
            logging.INFO, "agent_started", daemon_name=self.config.daemon_name, version=self.config.version,
            url=self.health.url, projects=",".join(self.config.projects), listen=self._format_listen(),
            spool=self.config.spool_dir, har=self.config.har_file or "",
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
        self._stopping.set()  # from now on events are refused (503): pawprint_django keeps them and retries
        self._heartbeat_due.set()
        for project in self.projects():
            project.set_state(project.state)  # wakes the held middleware polls, which answer now
        if self._server:
            self._server.shutdown()
            self._server.wait_idle(self.config.shutdown_timeout)  # events taken must reach the batcher
            self._server.server_close()
        self._intake_closed.set()
        self.batcher.wakeup.set()
        self.redactor.close()
        next(t for t in self._threads if t.name == "agent-spool").join()  # every open batch goes to the spool
        upload = next(t for t in self._threads if t.name == "agent-upload")
        upload.join(self.config.shutdown_timeout)
        self._abort_uploads.set()
        self._wake_uploads.set()
        upload.join(5)
        if len(self.spool):
            log_event(
                logging.WARNING, "spool_left", batches=len(self.spool), bytes=self.spool.size,
                spool=self.config.spool_dir, hint="they are uploaded when the agent starts again with this spool",
            )  # fmt: skip
        self.spool.close()
        log_event(logging.INFO, "agent_stopped", traffic=json.dumps(self.accounting.traffic()))

    # projects

    def project(self, name: str, *, listed: bool = False) -> Project:
        """The project of that name; a new one starts its long poll to the control plane (once running)."""
        with self._projects_lock:
            project = self._projects.get(name)
            if project is None:
                project = self._projects[name] = Project(name, listed=listed)
                self.accounting.add(name)  # the heartbeat reports its traffic from now on, if only zeros
                if self._running:
                    self._start(f"poll-{name}", self._poll_loop, project)
            return project

    def projects(self) -> list[Project]:
        with self._projects_lock:
            return list(self._projects.values())

    def _known(self, name: str) -> Project | None:
        with self._projects_lock:
            return self._projects.get(name)

    def _forget(self, project: Project) -> None:
        with self._projects_lock:
            if self._projects.get(project.name) is project:
                del self._projects[project.name]

    # the middleware protocol (called by agent.listen on its threads)

    def middleware_poll(self, service: str, body: object) -> Answer:
        """Hold a middleware's poll until the project's traces differ from its list (or the hold time passes)."""
        fields = body if isinstance(body, dict) else {}
        client_name, known = fields.get("client_name"), fields.get("active_trace_ids", [])
        if not isinstance(client_name, str) or not isinstance(known, list) or {type(i) for i in known} - {str}:
            detail = "client_name (a string) and active_trace_ids (a list of strings) are required"
            return Answer(400, {"message": "Invalid request body", "detail": detail})
        project = self.project(service)
        if client_name not in project.clients:
            self._heartbeat_due.set()  # so that the console shows the new client now, not in 20 s
        client = project.client_seen(client_name, self.clock.now(), known)
        deadline = self.clock.monotonic() + self.config.middleware_hold
        with project.changed:
            client.polls_held += 1
            try:
                while True:
                    if project.state is ProjectState.UNKNOWN:
                        detail = f"the control plane has no project {service!r} for this agent's key"
                        return Answer(404, {"message": "Service not found", "detail": detail})
                    diff = project.diff(known)
                    remaining = deadline - self.clock.monotonic()
                    changed = diff["activated_traces"] or diff["deactivated_traces"]
                    if changed or remaining <= 0 or self._stopping.is_set():
                        return Answer(202, diff)
                    project.changed.wait(remaining)
            finally:
                client.polls_held -= 1
                client.last_contact = self.clock.now()

    def events(self, service: str, trace_name: str, body: object, raw: bytes) -> Answer:
        """Take a middleware's entries for a trace (`body` parsed from `raw`): answer at once, then obfuscate,
        sample and batch them (`take`)."""
        entries = body.get("trace_events") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(entries, list):
            detail = "trace_events: a list of HAR entries is required"
            return Answer(400, {"message": "Bad request body", "detail": detail})
        if self._stopping.is_set():
            return Answer(503, {"message": "The agent is stopping."})
        project = self.project(service)
        if project.state is ProjectState.UNKNOWN:
            return Answer(404, {"message": "Service not found"})
        now = self.clock.now()
        if isinstance(body.get("client_name"), str):
            project.client_seen(body["client_name"], now)
        reported = drop_counts(body.get("dropped"))
        trace, accepts = project.trace_named(trace_name, now)
        if trace is None or not accepts:
            reason = "unknown_trace" if trace is None else "trace_closed"
            self.accounting.add(project.name, received=len(entries))
            self.drop(project.name, reported + Counter({reason: len(entries)}))
            if trace is None:
                return Answer(404, {"message": "Trace not found", "detail": f"no trace {trace_name!r} in {service!r}"})
            return Answer(202, {"trace_event_details": {"drops": len(entries)}})

        capture = Capture(project.name, trace, raw, body.get("redacted") is True, reported)
        # the middleware never reads the count; what capture drops is counted and reported with the trace
        return Answer(202, TAKEN, then=capture)

    def events_discarded(self, service: str, trace_name: str) -> Answer:
        """An events body the memory cap had no room for (akita-django sends one entry per call)."""
        project = self.project(service)
        trace, accepts = project.trace_named(trace_name, self.clock.now())
        self.accounting.add(project.name, received=1)
        self.drop(project.name, {"buffer_full": 1}, trace.trace_id if trace and accepts else None)
        return Answer(202, {"trace_event_details": {"drops": 1}})

    def status(self) -> dict[str, Any]:
        """What `GET /v1/status` shows."""
        return {
            "daemon_name": self.config.daemon_name,
            "version": self.config.version,
            "since": self.accounting.since.isoformat(),
            "control_plane": {"url": self.health.url, "reachable": self.health.reachable},
            "projects": [self._project_status(project) for project in self.projects()],
            "memory": {"used_bytes": self.budget.used, "limit_bytes": self.budget.limit},
            "spool": {
                "dir": str(self.config.spool_dir),
                "batches": len(self.spool),
                "bytes": self.spool.size,
                "limit_bytes": self.config.spool_max_bytes,
            },
        }

    def _project_status(self, project: Project) -> dict[str, Any]:
        with project.changed:
            clients = [
                {
                    "client_name": name,
                    "last_contact": client.last_contact.isoformat(),
                    "polls_held": client.polls_held,
                    "active_trace_ids": client.active_trace_ids,
                }
                for name, client in sorted(project.clients.items())
            ]
        return {
            "name": project.name,
            "state": project.state.value,
            "active_traces": [
                {"trace_id": t.trace_id, "trace_name": t.trace_name, "ends_at": t.ends_at.isoformat()}
                for t in project.active()
            ],
            "middleware_clients": clients,
            **self.accounting.project(project.name),
        }

    # capture and drops

    def take(self, calls: list[tuple[Capture, int]]) -> None:
        """Obfuscate the entries of these calls (in one list, for the redactor's process), sample and batch them.

        Each call comes with the bytes of the memory budget held for its body: they pay for its entries (which
        are smaller, obfuscated and compact), so that a body taken in is not lost for want of room; the rest
        is given back.
        """
        unspent = sum(reserved for _, reserved in calls)
        try:
            encoded_calls = self.redactor([(capture.body, capture.redacted) for capture, _ in calls])
            for (capture, reserved), encoded in zip(calls, encoded_calls, strict=True):
                self.accounting.add(capture.project, received=len(encoded))
                kept, lost = self._sample(encoded, capture.trace)
                taken = 0
                for entry in kept:
                    freeing = min(reserved, len(entry))
                    taken += self.batcher.add(capture.project, capture.trace.trace_id, entry, freeing)
                    reserved -= freeing
                    unspent -= freeing
                self.accounting.add(capture.project, buffered=taken)
                lost["buffer_full"] += len(kept) - taken
                self.drop(capture.project, lost + capture.reported, capture.trace.trace_id)
        finally:
            self.budget.release(unspent)

    def _sample(self, encoded: list[bytes | str], trace: Activation) -> tuple[list[bytes], Counter[str]]:
        """The obfuscated entries the trace's sampling rate keeps, and the others counted by reason."""
        kept: list[bytes] = []
        lost: Counter[str] = Counter()
        for entry in encoded:
            if isinstance(entry, str):
                lost["invalid_entry"] += 1
                if self._every_minute.due("entry_invalid"):
                    log_event(logging.WARNING, "entry_invalid", error=entry)
            elif self.rng.random() >= trace.sampling_rate:
                lost["sampled_out"] += 1
            else:
                kept.append(entry)
        return kept, lost

    def drop(self, project: str, dropped: Mapping[str, int], trace_id: str | None = None) -> None:
        """Count lost entries; with a trace, its next batch reports them too."""
        dropped = {reason: count for reason, count in dropped.items() if count > 0}
        if not dropped:
            return
        self.accounting.drop(project, dropped)
        if trace_id is not None:
            self.batcher.add_drops(project, trace_id, dropped)
        if set(dropped) - {"sampled_out"} and self._every_minute.due(f"dropped-{project}"):
            log_event(logging.WARNING, "entries_dropped", project=project, **dropped)

    def _replay_har(self, project: str, trace: Activation) -> None:
        """The `--har` source: a trace that activates gets the file's entries (sampled), straight to the spool."""
        if self._har_entries is None or trace.trace_id in self._replayed:
            return
        self._replayed.add(trace.trace_id)  # a trace the server re-announces is not replayed twice
        self.accounting.add(project, received=len(self._har_entries))
        kept, lost = self._sample([encode_entry(e, redacted=False) for e in self._har_entries], trace)
        self.drop(project, lost)
        self.accounting.add(project, buffered=len(kept))
        size = self.config.batch_size
        for start in range(0, len(kept), size):
            self._spool_batch(Batch(project, trace.trace_id, entries=kept[start : start + size]))
        log_event(logging.INFO, "har_replayed", trace_id=trace.trace_id, entries=len(kept), **lost)

    # loops

    def _heartbeat_loop(self) -> None:
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        interval = 20
        while not self._stopping.is_set():
            self._heartbeat_due.clear()
            # projects the control plane has not denied yet, so that new middleware clients show up at once
            projects = [p for p in self.projects() if p.state is not ProjectState.UNKNOWN]
            since = self.clock.now() - CLIENT_SEEN_WITHIN
            middleware = [MiddlewareClient(p.name, name) for p in projects for name in p.recent_clients(since)]
            names = [p.name for p in projects]
            try:
                interval = self.control_plane.heartbeat(
                    daemon_name=self.config.daemon_name,
                    version=self.config.version,
                    projects=names,
                    middleware=middleware,
                    # the server takes traffic only for the heartbeat's projects (a denied one's stays here)
                    traffic=[t for t in self.accounting.traffic() if t["project"] in names],
                )
                self.health.ok()
                backoff.reset()
                delay = float(interval)
            except (ApiError, TransportError) as error:
                denied = denied_project(error, names, middleware)
                if denied is not None:  # a project the key cannot see: leave it out and try again at once
                    self.health.failed(ApiError(404, "not_found", str(error)), project=denied)
                    if project := self._known(denied):
                        project.set_state(ProjectState.UNKNOWN)
                    continue
                self.health.failed(error, spooled=len(self.spool))
                delay = min(backoff.next(), float(interval))
            self.clock.wait(self._heartbeat_due, delay)

    def _poll_loop(self, project: Project) -> None:
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        while not self._stopping.is_set():
            self._expire(project)
            known = sorted(t.trace_id for t in project.active())
            try:
                reply = self.control_plane.poll(
                    project=project.name,
                    daemon_name=self.config.daemon_name,
                    active_trace_ids=known,
                    timeout=self.config.poll_timeout,
                )
            except (ApiError, TransportError) as error:
                unknown = isinstance(error, ApiError) and error.status == 404
                self.health.failed(error, project=project.name if unknown else "", spooled=len(self.spool))
                if unknown:
                    project.set_state(ProjectState.UNKNOWN)
                    if not project.listed:  # learnt from a middleware: its next poll asks again
                        self._forget(project)
                        return
                    delay = 60.0
                elif isinstance(error, ApiError) and error.status == 429 and error.retry_after is not None:
                    delay = error.retry_after
                else:
                    delay = backoff.next()
                self.clock.wait(self._stopping, delay)
                continue
            backoff.reset()
            self.health.ok()
            if self._stopping.is_set():
                return
            activated, deactivated = project.apply(reply, self.clock.now())
            for trace in deactivated:
                self.batcher.seal(trace.trace_id)
                log_event(logging.INFO, "trace_deactivated", project=project.name, trace_id=trace.trace_id)
            for trace in activated:
                log_event(
                    logging.INFO, "trace_activated", project=project.name, trace_id=trace.trace_id,
                    trace_name=trace.trace_name, ends_at=trace.ends_at.isoformat(), sampling_rate=trace.sampling_rate,
                )  # fmt: skip
                self._replay_har(project.name, trace)

    def _expire(self, project: Project) -> None:
        for trace in project.expire(self.clock.now()):
            self.batcher.seal(trace.trace_id)
            log_event(logging.INFO, "trace_ended", project=project.name, trace_id=trace.trace_id)

    def _spool_loop(self) -> None:
        while not self._intake_closed.is_set():
            for project in self.projects():
                self._expire(project)
            for batch in self.batcher.take():
                self._spool_batch(batch)
            self.clock.wait(self.batcher.wakeup, min(0.5, self.batcher.next_due_in()))
        self.batcher.seal()
        for batch in self.batcher.take():
            self._spool_batch(batch)
        self._spooler_done.set()
        self._spooled.set()

    def _spool_batch(self, batch: Batch) -> None:
        """Write a batch to the spool; if it has no room, its entries are lost and counted."""
        count = len(batch.entries)
        try:
            body = gzip.compress(batch.body(self.config.daemon_name), compresslevel=5, mtime=0)
            self.spool.append(
                project=batch.project,
                trace_id=batch.trace_id,
                batch_id=batch.batch_id,
                entries=count,
                dropped=dict(+batch.dropped),
                body=body,
            )
        except (SpoolFull, OSError) as error:
            reason = "rate_limited" if self.uploader.rate_limited else "spool_full"
            if self._every_minute.due("spool_full"):
                log_event(logging.ERROR, "spool_full", error=error, spool=self.config.spool_dir, reason=reason)
            self.accounting.drop(batch.project, {reason: count})
            # the trace still learns of its losses, with a later batch, once the spool has room
            self.batcher.add_drops(batch.project, batch.trace_id, batch.dropped + Counter({reason: count}))
        else:
            self.accounting.add(batch.project, spooled=count)
            self._spooled.set()
        finally:
            self.accounting.add(batch.project, buffered=-count)
            self.budget.release(batch.size)

    def _upload_loop(self) -> None:
        while not self._abort_uploads.is_set():
            item = self.spool.oldest()
            if item is None:
                if self._spooler_done.is_set():
                    return
                self.clock.wait(self._spooled, 0.5)
                self._spooled.clear()
                continue
            outcome = self.uploader.send(item, spooled=len(self.spool))
            if outcome is Outcome.INTERRUPTED:
                return
            self._uploaded(item, outcome)

    def _uploaded(self, item: SpooledBatch, outcome: Outcome) -> None:
        self.spool.remove(item)
        self.accounting.add(item.project, spooled=-item.entries)
        if outcome in (Outcome.SENT, Outcome.DUPLICATE):
            self.accounting.add(item.project, uploaded=item.entries)
        elif outcome is Outcome.GONE:
            if project := self._known(item.project):
                project.mark_gone(item.trace_id)
            self.accounting.drop(item.project, {"trace_closed": item.entries})
        else:
            self.accounting.drop(item.project, {"rejected": item.entries})
            if item.entries:  # the trace learns of the loss with a later batch (unless that one is refused too)
                lost = Counter(item.dropped) + Counter(rejected=item.entries)
                self.batcher.add_drops(item.project, item.trace_id, lost)
