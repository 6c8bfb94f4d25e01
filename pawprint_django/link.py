"""The process's link to the agent: which traces are active (a long poll), and a bounded queue drained by a sender.

One link per process and configuration, whatever the number of middleware instances (each `django.test.Client`
builds one); a forked worker (gunicorn `--preload`) gets its own, with its own threads. Nothing here blocks a
request: the queue takes or refuses at once, and every entry it refuses, or the agent never gets, is counted
and reported to the agent with a later batch of the trace (`dropped`).
"""

import http.client
import json
import logging
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from agent.logs import EveryMinute
from apimodel.witness import redact_entry
from pawprint_django import __version__
from pawprint_django.capture import Exchange, har_entry
from pawprint_django.config import Config

logger = logging.getLogger("pawprint_django")

POLL_TIMEOUT = 60.0  # the agent answers an idle poll after 30 s
SEND_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 1024 * 1024  # per events call; a batch is split to fit
BATCH_ENTRIES = 200
DROPS_EVERY = 2.0  # seconds between reports of drops that no entry carried
YIELD_SECONDS = 0.001


@dataclass(frozen=True)
class ActiveTrace:
    trace_id: str
    trace_name: str
    ends_at: float  # epoch seconds; capture stops then even if the agent is gone


class BoundedQueue:
    """Exchanges waiting for the sender, at most `max_items` and `max_bytes`; `put` never blocks."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[Exchange] = deque()
        self._bytes = 0
        self._ready = threading.Condition()

    def put(self, item: Exchange) -> bool:
        """Queue an exchange; False (and nothing queued) when full."""
        size = item.size
        with self._ready:
            if len(self._items) >= self.max_items or self._bytes + size > self.max_bytes:
                return False
            self._items.append(item)
            self._bytes += size
            self._ready.notify()
            return True

    def take(self, max_items: int, timeout: float) -> list[Exchange]:
        """Up to `max_items` exchanges, waiting up to `timeout` for the first."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            taken = [self._items.popleft() for _ in range(min(max_items, len(self._items)))]
            self._bytes -= sum(item.size for item in taken)
            return taken


class AgentUnavailable(Exception):
    """The agent did not take a call; `final` when retrying cannot help (it does not know the trace)."""

    def __init__(self, message: str, *, final: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.final = final
        self.retry_after = retry_after


class AgentConnection:
    """One keep-alive HTTP connection to the agent, reopened after any error."""

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = (host or address).strip("[]"), int(port) if port.isdigit() else 50080
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> Any:
        """POST JSON, return the JSON reply of a 2xx; AgentUnavailable otherwise."""
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            headers = {"Content-Type": "application/json", "User-Agent": f"pawprint-django/{__version__}"}
            self._connection.request("POST", path, body, headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise AgentUnavailable(f"cannot reach the agent at {self.host}:{self.port}: {error}") from error
        if response.status in (200, 202):
            try:
                return json.loads(data)
            except ValueError as error:
                raise AgentUnavailable(f"the agent's reply is not JSON: {error}") from error
        retry_after = response.getheader("Retry-After")
        raise AgentUnavailable(
            f"the agent answered {response.status}: {data[:200]!r}",
            final=400 <= response.status < 500,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _epoch(value: object) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # an agent that does not say when the trace ends: until it says it stopped


class AgentLink:
    """Active traces, the queue, and the two threads (poll, send) of one process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.queue = BoundedQueue(config.max_queue, config.max_queue_bytes)
        self._traces: tuple[ActiveTrace, ...] = ()
        self._names: tuple[str, ...] = ()
        self._until = 0.0
        self._drops: dict[str, Counter[str]] = {}
        self._drops_lock = threading.Lock()
        self._every_minute = EveryMinute()
        project = quote(config.project, safe="")
        self._poll_path = f"/v1/services/{project}/middleware"
        self._events_path = f"/v1/services/{project}/traces/{{}}/events"
        self.stopped = threading.Event()

    def start(self) -> None:
        for name, target in (("poll", self._poll_loop), ("send", self._send_loop)):
            threading.Thread(target=target, name=f"pawprint-{name}", daemon=True).start()

    # the request thread

    def capturing(self) -> tuple[str, ...]:
        """Names of the traces that want this request (none, mostly): two attribute reads and a clock read."""
        return self._names if self._names and time.time() < self._until else ()

    def offer(self, exchange: Exchange) -> None:
        if not self.queue.put(exchange):
            self.count_drop(exchange.traces, "queue_full")

    def count_drop(self, traces: tuple[str, ...], reason: str, count: int = 1) -> None:
        with self._drops_lock:
            for name in traces:
                self._drops.setdefault(name, Counter())[reason] += count

    # the poll thread

    def _set_traces(self, traces: tuple[ActiveTrace, ...]) -> None:
        self._traces = traces
        self._until = max((t.ends_at for t in traces), default=0.0)
        self._names = tuple(t.trace_name for t in traces)

    def _poll_loop(self) -> None:
        connection = AgentConnection(self.config.agent, POLL_TIMEOUT)
        delay = 1.0
        while not self.stopped.is_set():
            body = {"client_name": self.config.client_name, "active_trace_ids": [t.trace_id for t in self._traces]}
            try:
                diff = connection.post(self._poll_path, json.dumps(body).encode())
                self._apply(diff)
                delay = 1.0
            except AgentUnavailable as error:
                if self._every_minute.due("poll"):
                    logger.warning("no trace news from the agent (%s); retrying", error)
                # a gone agent cannot stop a trace: capture ends at the trace's end time at the latest
                self.stopped.wait(60.0 if error.final else delay)
                delay = min(delay * 2, 30.0)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                logger.warning("the agent's poll reply is malformed: %r", error)
                self.stopped.wait(delay)
                delay = min(delay * 2, 30.0)

    def _apply(self, diff: Any) -> None:
        gone = set(diff["deactivated_traces"])
        traces = [t for t in self._traces if t.trace_id not in gone]
        known = {t.trace_id for t in traces}
        for item in diff["activated_traces"]:
            if item["trace_id"] not in known:
                traces.append(ActiveTrace(str(item["trace_id"]), str(item["trace_name"]), _epoch(item.get("ends_at"))))
                logger.info("capturing for trace %s", item["trace_name"])
        for trace_id in gone & {t.trace_id for t in self._traces}:
            logger.info("trace %s stopped", trace_id)
        self._set_traces(tuple(traces))

    # the sender thread

    def _send_loop(self) -> None:
        connection = AgentConnection(self.config.agent, SEND_TIMEOUT)
        last_drops = time.monotonic()
        while not self.stopped.is_set():
            exchanges = self.queue.take(BATCH_ENTRIES, timeout=1.0)
            batches: dict[str, list[bytes]] = {}
            for exchange in exchanges:
                try:
                    entry = json.dumps(redact_entry(har_entry(exchange))).encode()
                except Exception as error:  # one odd request must not stop the sender
                    self.count_drop(exchange.traces, "capture_failed")
                    if self._every_minute.due("capture"):
                        logger.warning("cannot make an entry of %s: %r", exchange.url, error)
                    continue
                for name in exchange.traces:
                    batches.setdefault(name, []).append(entry)
                # Pause between entries: a request thread waiting for the GIL gets it now rather than after the 5 ms
                # switch interval, so a batch costs a request one entry's work at most (bench/middleware_latency.py).
                time.sleep(YIELD_SECONDS)
            for name, entries in batches.items():
                self._deliver(connection, name, entries)
            if time.monotonic() - last_drops >= DROPS_EVERY:
                last_drops = time.monotonic()
                with self._drops_lock:
                    pending = [name for name, counts in self._drops.items() if +counts]
                for name in pending:  # drops that no entry carried, e.g. everything was dropped
                    self._deliver(connection, name, [])

    def _deliver(self, connection: AgentConnection, trace_name: str, entries: list[bytes]) -> None:
        """Send a trace's entries (in calls of at most MAX_REQUEST_BYTES) with the drops since the last report."""
        path = self._events_path.format(quote(trace_name, safe=""))
        chunks: list[list[bytes]] = []
        chunk: list[bytes] = []
        size = 0
        for encoded in entries:
            if chunk and size + len(encoded) > MAX_REQUEST_BYTES:
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(encoded)
            size += len(encoded) + 1
        chunks.append(chunk)
        for part in chunks:
            with self._drops_lock:
                dropped = self._drops.pop(trace_name, Counter())
            head = {"client_name": self.config.client_name, "no_more_events": False, "redacted": True}
            if +dropped:
                head["dropped"] = dict(+dropped)
            body = json.dumps(head).encode()[:-1] + b', "trace_events": [' + b",".join(part) + b"]}"
            try:
                self._post(connection, path, body, retry=bool(part))
            except AgentUnavailable as error:
                if error.final:  # the agent does not know this trace: nobody to report these losses to
                    logger.warning("lost %d entries of trace %s: %s", len(part), trace_name, error)
                    with self._drops_lock:
                        self._drops.pop(trace_name, None)
                    return
                self.count_drop((trace_name,), "agent_unreachable", len(part))
                with self._drops_lock:  # the drops this call carried wait for the next one
                    self._drops.setdefault(trace_name, Counter()).update(dropped)

    def _post(self, connection: AgentConnection, path: str, body: bytes, *, retry: bool) -> None:
        """Send one events call, retrying for `retry_seconds` while the agent is down or busy."""
        deadline = time.monotonic() + (self.config.retry_seconds if retry else 0)
        delay = 0.2
        while True:
            try:
                connection.post(path, body)
                return
            except AgentUnavailable as error:
                if self._every_minute.due("send"):
                    logger.warning("the agent did not take entries (%s)", error)
                wait = error.retry_after or delay
                if error.final or time.monotonic() + wait > deadline or self.stopped.wait(wait):
                    raise
                delay = min(delay * 2, 5.0)


_links: dict[Config, AgentLink] = {}
_links_pid = os.getpid()
_links_lock = threading.Lock()


def link_for(config: Config) -> AgentLink:
    """This process's link for a configuration, started on first use (again in a forked child)."""
    global _links_pid
    with _links_lock:
        if _links_pid != os.getpid():  # threads do not survive fork: the child starts its own
            _links.clear()
            _links_pid = os.getpid()
        link = _links.get(config)
        if link is None:
            link = _links[config] = AgentLink(config)
            link.start()
        return link
