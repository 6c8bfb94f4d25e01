"""The middleware-facing HTTP server: the akita-django protocol (`../shared/akita-compat/PROTOCOL.md`, part A).

- `POST /v1/services/{service}/middleware`: long poll, held until the traces differ from the client's list.
- `POST /v1/services/{service}/traces/{trace_name}/events`: HAR entries, answered at once.
- `GET /v1/status`: what the agent is doing, as JSON.

Meant for loopback. Every reply is written in one send with TCP_NODELAY: a reply in two sends on a keep-alive
connection waits for the client's delayed ACK (Nagle), 40 ms per request.
"""

import http
import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote

from agent import __version__
from agent.batches import MemoryBudget
from agent.logs import log_event

MIDDLEWARE_PATH = re.compile(r"^/v1/services/([^/]+)/middleware/?$")
EVENTS_PATH = re.compile(r"^/v1/services/([^/]+)/traces/([^/]+)/events/?$")
MAX_POLL_BYTES = 64 * 1024
MAX_EVENTS_BYTES = 16 * 1024 * 1024
MAX_CONNECTIONS = 512  # at once; more wait for a thread (each middleware process holds one poll)
# pawprint_django sends this User-Agent; it keeps a batch and retries on 503, where akita-django would lose it
PAWPRINT_CLIENT = "pawprint-django/"


@dataclass(frozen=True)
class Answer:
    """A reply, and the work to do once it is sent (events are answered before they are obfuscated)."""

    status: int
    body: dict[str, Any]
    then: Callable[[], object] | None = None


class Intake(Protocol):
    """What the server hands requests to (`agent.daemon.Daemon`)."""

    budget: MemoryBudget

    def middleware_poll(self, service: str, body: object) -> Answer: ...

    def events(self, service: str, trace_name: str, body: object) -> Answer: ...

    def events_discarded(self, service: str, trace_name: str) -> Answer: ...

    def status(self) -> dict[str, Any]: ...


class MiddlewareServer(ThreadingHTTPServer):
    """A thread per connection, from a pool: akita-django opens a connection per call, and each held poll keeps
    one. Reusing threads spares the accept loop a thread start (and its wait to be scheduled) per call."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], intake: Intake) -> None:
        super().__init__(address, _Handler)
        self.intake = intake
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="agent-connection")
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._events_in_progress = 0
        self._idle = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        self._pool.submit(self.process_request_thread, request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and end every connection: an idle keep-alive one would hold its thread (and exit)."""
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._pool.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def taking_events(self) -> Iterator[None]:
        """Marks an events call, from its body to the work after the reply, so that a shutdown can wait for it."""
        with self._idle:
            self._events_in_progress += 1
        try:
            yield
        finally:
            with self._idle:
                self._events_in_progress -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the events calls in progress to end; whether they did within `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._events_in_progress == 0, timeout)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: MiddlewareServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # seconds a connection may sit idle (a client that went away without closing)
    server_version = f"pawprint-agent/{__version__}"
    sys_version = ""

    def _reply(self, status: int, body: dict[str, Any], extra_headers: tuple[str, ...] = ()) -> None:
        data = json.dumps(body).encode()
        head = [
            f"{self.protocol_version} {status} {http.HTTPStatus(status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(data)}",
            *extra_headers,
        ]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.log_request(status)

    def _body_length(self, limit: int) -> int | None:
        """The declared body length, or None after answering 411/413 (and closing: the body stays unread)."""
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if 0 <= length <= limit:
            return length
        self.close_connection = True
        if length < 0:
            self._reply(411, {"message": "Send a Content-Length."})
        else:
            self._reply(413, {"message": f"Bodies are limited to {limit} bytes."})
        return None

    def _json(self, length: int) -> tuple[bool, object]:
        try:
            return True, json.loads(self.rfile.read(length))
        except (ValueError, RecursionError) as error:
            self._reply(400, {"message": "Bad request body", "detail": f"the body is not JSON: {error}"})
            return False, None

    def _discard(self, length: int) -> None:
        while length > 0 and (chunk := self.rfile.read(min(length, 65536))):
            length -= len(chunk)

    def _call(self, handler: Callable[[], Answer]) -> None:
        try:
            answer = handler()
        except Exception as error:  # a bug must cost one reply, not the agent
            log_event(logging.ERROR, "request_failed", path=self.path, error=repr(error))
            answer = Answer(500, {"message": "Internal error", "detail": repr(error)})
        self._reply(answer.status, answer.body)
        try:
            if answer.then is not None:
                answer.then()
        except Exception as error:
            log_event(logging.ERROR, "request_failed", path=self.path, error=repr(error))

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/v1/status":
            self._call(lambda: Answer(200, self.server.intake.status()))
        else:
            self._reply(404, {"message": "Not found: use the middleware protocol's POST endpoints or GET /v1/status."})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        intake = self.server.intake
        if poll := MIDDLEWARE_PATH.match(path):
            length = self._body_length(MAX_POLL_BYTES)
            if length is not None:
                parsed, body = self._json(length)
                if parsed:
                    self._call(lambda: intake.middleware_poll(unquote(poll[1]), body))
        elif events := EVENTS_PATH.match(path):
            self._events(unquote(events[1]), unquote(events[2]))
        else:
            self._reply(404, {"message": "Not found: POST /v1/services/{service}/middleware or .../events."})

    def _events(self, service: str, trace_name: str) -> None:
        with self.server.taking_events():
            self._take_events(service, trace_name)

    def _take_events(self, service: str, trace_name: str) -> None:
        intake = self.server.intake
        length = self._body_length(MAX_EVENTS_BYTES)
        if length is None:
            return
        if not intake.budget.try_acquire(length):
            self._discard(length)
            if self.headers.get("User-Agent", "").startswith(PAWPRINT_CLIENT):
                self._reply(503, {"message": "The agent is at its memory cap; retry."}, ("Retry-After: 1",))
            else:
                self._call(lambda: intake.events_discarded(service, trace_name))
            return
        try:
            parsed, body = self._json(length)
            if parsed:
                self._call(lambda: intake.events(service, trace_name, body))
        finally:
            intake.budget.release(length)

    def log_message(self, format: str, *args: Any) -> None:
        log_event(logging.DEBUG, "middleware_request", client=self.address_string(), request=format % args)
