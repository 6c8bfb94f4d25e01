"""The middleware-facing HTTP server: the akita-django protocol (`../shared/akita-compat/PROTOCOL.md`, part A).

- `POST /v1/services/{service}/middleware`: long poll, held until the traces differ from the client's list.
- `POST /v1/services/{service}/traces/{trace_name}/events`: HAR entries, answered at once.
- `GET /v1/status`: what the agent is doing, as JSON.

One event loop on one thread serves every connection with non-blocking sockets: akita-django opens a new
connection per event, and a thread per connection cost more CPU than the event itself. The loop parses the
little HTTP/1.1 the protocol uses (a request line, headers, a `Content-Length` body; keep-alive), answers an
events call as soon as its body is read, and hands the raw bodies of each pass of the loop to a worker thread
at once, which passes whatever has queued up to the intake in lists (`Intake.take`: obfuscation, in a process
of its own). A held poll waits on a
thread of its own (`POLL_THREADS` at most; ~21 KB of memory each), since it blocks on the project's condition.

Meant for loopback. Every reply is written in one send on a socket with TCP_NODELAY: a reply in two sends on a
keep-alive connection waits for the client's delayed ACK (Nagle), 40 ms per request.
"""

import _socket
import asyncio
import http
import json
import logging
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import unquote

from agent import __version__
from agent.batches import MemoryBudget
from agent.logs import EveryMinute, log_event, logger

MIDDLEWARE_PATH = re.compile(r"^/v1/services/([^/]+)/middleware/?$")
EVENTS_PATH = re.compile(r"^/v1/services/([^/]+)/traces/([^/]+)/events/?$")
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
MAX_POLL_BYTES = 64 * 1024
MAX_EVENTS_BYTES = 16 * 1024 * 1024
CALL_BYTES = 512  # what an events call waiting for obfuscation holds besides its body, for the memory budget
POLL_THREADS = 512  # polls held at once (each middleware process holds one); more wait for a thread
ACCEPTS_AT_ONCE = 64  # connections accepted per turn of the loop
READ_SIZE = 256 * 1024
# events calls handed to the intake in one list: at most this many, and this many bytes of bodies past the first
# (the list crosses to the obfuscation process and back: each way, a copy that the memory budget does not count)
TAKEN_AT_ONCE = 500
TAKEN_BYTES_AT_ONCE = 1024 * 1024
IDLE_TIMEOUT = 300.0  # seconds a connection may sit idle (a client that went away without closing)
# pawprint_django sends this User-Agent; it keeps a batch and retries on 503, where akita-django would lose it.
# It keeps its connection; other clients' connections are closed after an events reply: akita-django opens one
# per event and never reuses it, and closing first spares the loop a wake-up for the client's close.
PAWPRINT_CLIENT = "pawprint-django/"
SERVER = f"pawprint-agent/{__version__}"
STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}" for status in http.HTTPStatus}


@dataclass(frozen=True)
class Answer:
    """A reply, and what the intake takes once it is sent (events are answered before they are obfuscated)."""

    status: int
    body: dict[str, Any]
    then: Any = None  # handed to `Intake.take` on the worker thread


class Intake(Protocol):
    """What the server hands requests to (`agent.daemon.Daemon`)."""

    budget: MemoryBudget

    def middleware_poll(self, service: str, body: object) -> Answer: ...

    def events(self, service: str, trace_name: str, body: object, raw: bytes) -> Answer: ...

    def events_discarded(self, service: str, trace_name: str) -> Answer: ...

    def take(self, thens: list[tuple[Any, int]]) -> None:
        """The `then` of answered events calls, in the order they came, as many at once as are waiting, each with
        the bytes of the memory budget held for its body: `take` gives them back."""

    def status(self) -> dict[str, Any]: ...


@dataclass
class _Request:
    method: str
    path: str  # without the query
    headers: dict[str, str]  # names in lower case
    length: int  # of the body
    close: bool  # the connection is closed after the reply (the client asked, or it is not pawprint_django's)
    # an events call's (service, trace name): counted in progress until its work after the reply is done
    events: tuple[str, str] | None = None
    reserved: int = 0  # bytes taken from the memory budget: the body's and CALL_BYTES
    discard: bool = False  # the body is read and thrown away (the memory cap, or a refusal)


class MiddlewareServer:
    """Listens from construction (OSError if the address is taken); `serve_forever()` runs the loop until
    `server_close()`. `shutdown()` stops accepting, `wait_idle()` waits for the calls in progress to be done."""

    def __init__(self, address: tuple[str, int], intake: Intake) -> None:
        self.intake = intake
        self._socket = socket.create_server(address, backlog=1024)
        self._socket.setblocking(False)
        self._family, self._protocol = int(self._socket.family), self._socket.proto
        self._loop = asyncio.new_event_loop()
        self._connections: set[_Connection] = set()
        self._polls = ThreadPoolExecutor(max_workers=POLL_THREADS, thread_name_prefix="agent-poll")
        # answered events calls, handed to the worker thread once per pass of the loop: one wake-up for all of them
        self._taken: list[tuple[Any, int]] = []
        self._after_reply: queue.SimpleQueue[list[tuple[Any, int]] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work_after_replies, name="agent-capture", daemon=True)
        # events calls from their head to the end of their work after the reply, and polls until answered
        self._calls_in_progress = 0
        self._idle = threading.Condition()
        self._stopped = threading.Event()
        self._second = 0  # of the reply heads below, which carry the Date
        self._heads: dict[tuple[int, int, bool], bytes] = {}  # by status, body length, Connection: close
        self._encoded: tuple[object, bytes] = (None, b"")  # the last reply body and its JSON
        self._every_minute = EveryMinute()
        self._loop.add_reader(self._socket, self._accept)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._worker.start()
        try:
            self._loop.call_later(IDLE_TIMEOUT / 10, self._close_idle)
            self._loop.run_forever()
        finally:
            for connection in list(self._connections):
                connection.close()
            self._loop.close()
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop accepting connections; the ones open are still served."""
        self._in_loop(lambda: self._loop.remove_reader(self._socket))

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the calls in progress to end (the agent wakes held polls when it stops); whether they did
        within `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._calls_in_progress == 0, timeout)

    def server_close(self) -> None:
        """End every connection and the loop (an idle keep-alive connection would otherwise hold it)."""
        self._in_loop(self._loop.stop)
        self._socket.close()
        if self._worker.is_alive():
            self._stopped.wait(10)
            self._after_reply.put(self._taken)  # answered in the loop's last pass
            self._after_reply.put(None)
            self._worker.join()
        self._polls.shutdown(wait=False, cancel_futures=True)
        self._stopped.wait(10)

    def _in_loop(self, call: Callable[[], object]) -> None:
        with suppress(RuntimeError):  # the loop is closed: the server is, too
            self._loop.call_soon_threadsafe(call)

    def _accept(self) -> None:
        for _ in range(ACCEPTS_AT_ONCE):
            try:
                # the C accept and the C socket made from its descriptor: `socket.accept` looks the listener's
                # family and type up as enums for every connection, a tenth of the loop's time, and the Python
                # socket class adds its own bookkeeping to making and closing each
                descriptor, peer = self._socket._accept()  # type: ignore[attr-defined]  # not in typeshed
                sock = _socket.socket(self._family, socket.SOCK_STREAM, self._protocol, descriptor)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. out of file descriptors: try again in a second
                if self._every_minute.due("accept_failed"):
                    log_event(logging.ERROR, "accept_failed", error=error)
                self._loop.remove_reader(self._socket)
                self._loop.call_later(1, self._loop.add_reader, self._socket, self._accept)
                return
            connection = _Connection(self, sock, str(peer[0]) if peer else "")
            self._connections.add(connection)
            connection.start()

    def _close_idle(self) -> None:
        oldest = self._loop.time() - IDLE_TIMEOUT
        for connection in [c for c in self._connections if c.last_active < oldest and not c.busy]:
            connection.close()
        self._loop.call_later(IDLE_TIMEOUT / 10, self._close_idle)

    def reply(self, status: int, body: dict[str, Any], close: bool, extra: bytes = b"") -> bytes:
        """A reply's bytes. Heads are made once a second (their Date changes), and a body that is the same object
        as the last one is not encoded again (the daemon answers most events calls with one constant dict)."""
        if body is self._encoded[0]:
            data = self._encoded[1]
        else:
            data = json.dumps(body).encode()
            self._encoded = (body, data)
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._heads.clear()
        head = self._heads.get((status, len(data), close))
        if head is None:
            head = self._heads[status, len(data), close] = (
                f"{STATUS_LINES[status]}\r\nServer: {SERVER}\r\nDate: {formatdate(now, usegmt=True)}\r\n"
                f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(data)}\r\n"
                + ("Connection: close\r\n" if close else "")
            ).encode()
        return head + extra + b"\r\n" + data

    # events calls in progress, and the work after their replies

    def call_started(self) -> None:
        with self._idle:
            self._calls_in_progress += 1

    def call_ended(self, reserved: int) -> None:
        """A call is done: its body's bytes (if an events call's) go back to the memory budget."""
        self.calls_ended(1, reserved)

    def calls_ended(self, calls: int, reserved: int) -> None:
        if reserved:
            self.intake.budget.release(reserved)
        with self._idle:
            self._calls_in_progress -= calls
            self._idle.notify_all()

    def after_reply(self, then: Any, reserved: int) -> None:
        """Hand `then` to the intake on the worker thread, then end the events call (in the order calls came).
        The calls of a pass of the loop go together, at its end: handing them one by one woke the worker thread
        for each, and the two threads traded the GIL."""
        if not self._taken:
            self._loop.call_soon(self._hand_off)
        self._taken.append((then, reserved))

    def _hand_off(self) -> None:
        taken, self._taken = self._taken, []
        self._after_reply.put(taken)

    def _work_after_replies(self) -> None:
        """Hands the intake what is waiting, in lists (the obfuscation process takes a list per round trip).

        A list taken is let go of at once: the intake gives its bodies' bytes back to the memory budget, so a
        body still held here would be memory the budget does not count."""
        waiting: list[tuple[Any, int]] = []
        ending = False
        while waiting or not ending:
            while not ending and (not waiting or not self._after_reply.empty()):  # waits only with nothing to do
                calls = self._after_reply.get()
                if calls is None:
                    ending = True
                else:
                    waiting += calls
                    del calls  # `waiting` lets go of what it hands on
            if not waiting:  # an empty list (handed when the server closes)
                continue
            end = _portion_end(waiting)
            taken = waiting[:end]
            del waiting[:end]
            try:
                self.intake.take(taken)
            except Exception as error:  # a bug must cost these calls' entries, not the agent
                log_event(logging.ERROR, "request_failed", error=repr(error), calls=len(taken))
            finally:
                self.calls_ended(len(taken), 0)
            del taken

    def poll(self, service: str, body: object, reply: Callable[[Answer], None]) -> None:
        """Hold a middleware poll on a thread of its own; `reply` runs in the loop once it is answered."""
        self.call_started()

        def answered(future: Any) -> None:
            answer = future.result() if not future.cancelled() and future.exception() is None else None
            if answer is None:
                error = "cancelled" if future.cancelled() else repr(future.exception())
                log_event(logging.ERROR, "request_failed", path="middleware", error=error)
                answer = Answer(500, {"message": "Internal error", "detail": error})

            def answer_in_loop() -> None:
                reply(answer)
                self.call_ended(0)

            self._in_loop(answer_in_loop)

        self._polls.submit(self.intake.middleware_poll, service, body).add_done_callback(answered)


def _portion_end(calls: list[tuple[Any, int]]) -> int:
    """How many of the calls go in the next list: at most TAKEN_AT_ONCE, and TAKEN_BYTES_AT_ONCE of bodies past
    the first."""
    end, size = 1, 0
    while end < len(calls) and end < TAKEN_AT_ONCE and size < TAKEN_BYTES_AT_ONCE:
        size += calls[end][1]
        end += 1
    return end


@lru_cache(maxsize=1024)
def _events_route(path: str) -> tuple[str, str] | None:
    """The (service, trace name) of an events path; remembered, since a middleware posts to one path again and again."""
    events = EVENTS_PATH.match(path)
    return (unquote(events[1]), unquote(events[2])) if events else None


class _Connection:
    """One client connection, on the loop's selector: requests are read and answered one at a time, in order.

    Plain non-blocking socket calls rather than asyncio's transports: a transport and the task that accepts it
    cost more CPU than the rest of an akita-django call, which comes on a connection of its own.
    """

    def __init__(self, server: MiddlewareServer, sock: _socket.socket, client: str) -> None:
        self.server = server
        self.intake = server.intake
        self.loop = server._loop
        self.sock = sock
        self.client = client
        self.buffer = bytearray()
        self.unsent = b""  # the part of a reply the socket did not take yet
        self.request: _Request | None = None  # whose head is read, while its body comes
        self.busy = False  # a held poll: nothing else is read until it is answered
        self.closing = False  # once the reply is sent
        self.closed = False
        self.reading = False  # on the selector
        self.last_active = self.loop.time()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fd = sock.fileno()  # for the selector: a KeyError naming a socket object formats its addresses

    def start(self) -> None:
        """Serve what came with the connection, then wait for more on the selector: akita-django sends its
        request at once, so its call is often answered and closed without the selector."""
        self._readable()
        if not self.closing and not self.busy:
            self._start_reading()

    def _start_reading(self) -> None:
        self.reading = True
        self.loop.add_reader(self.fd, self._readable)

    def _stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client closed (akita-django does after every reply)
            self.close()
            return
        self.last_active = self.loop.time()
        self.buffer += data
        self._serve()

    def _send(self, data: bytes) -> None:
        if not self.unsent:
            try:
                data = data[self.sock.send(data) :]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:  # the client is gone
                self.close()
                return
            if data:
                self.loop.add_writer(self.fd, self._writable)
        self.unsent += data

    def _writable(self) -> None:
        try:
            self.unsent = self.unsent[self.sock.send(self.unsent) :]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.unsent = b""
        if not self.unsent:
            self.loop.remove_writer(self.fd)
            if self.closing:
                self.close()

    def _close_after_reply(self) -> None:
        self.closing = True
        self._stop_reading()
        if not self.unsent:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = self.closing = True
        self._stop_reading()
        if self.unsent:
            self.loop.remove_writer(self.fd)
        self.sock.close()
        self.server._connections.discard(self)
        if self.request is not None and self.request.events is not None:  # the body never came in full
            self.server.call_ended(self.request.reserved)
            self.request = None

    def _serve(self) -> None:
        """Answer every request whose bytes are here."""
        while not self.busy and not self.closing:
            if self.request is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_HEAD_BYTES:
                        self._refuse(431, "The request head is too large.")
                    return
                head = self._take(end)
                del self.buffer[:4]
                self.request = self._head(head)
                if self.request is None:
                    return
            request = self.request
            if request.discard:
                taken = min(request.length, len(self.buffer))
                del self.buffer[:taken]
                request.length -= taken
                if request.length:
                    return
                self.request = None
                self._discarded(request)
                continue
            if len(self.buffer) < request.length:
                return
            body = self._take(request.length)
            self.request = None
            self._handle(request, body)

    def _take(self, size: int) -> bytes:
        """The buffer's first `size` bytes, copied once (a slice of the bytearray would be a second copy)."""
        with memoryview(self.buffer) as view, view[:size] as part:
            taken = bytes(part)
        del self.buffer[:size]
        return taken

    def _head(self, head: bytes) -> _Request | None:
        """The request of this head (`_request`); None after refusing it (and closing). Split with str methods:
        a regex over the headers took a sixth of the loop's time for an akita-django call."""
        text = head.decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not name or not colon:
                break
            headers[name.strip().lower()] = value.strip(" \t")
        else:
            if len(parts) == 3 and text.count("\r") == text.count("\n") == len(lines) - 1:
                return self._request(parts[0], parts[1], parts[2], headers)
        self._refuse(400, "Malformed HTTP request.")
        return None

    def _request(self, method: str, target: str, version: str, headers: dict[str, str]) -> _Request | None:
        """The request, its body's bytes reserved; None after refusing it (and closing)."""
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version != "HTTP/1.1" and connection != "keep-alive")
        path = target.split("?", 1)[0]
        if method != "POST":
            if "content-length" in headers or "transfer-encoding" in headers:
                close = True  # a body this server does not read
            return _Request(method, path, headers, 0, close)
        try:
            length = int(headers.get("content-length", "-1"))
        except ValueError:
            length = -1
        if length < 0 or "transfer-encoding" in headers:
            self._refuse(411, "Send a Content-Length.")
            return None
        events = _events_route(path)
        limit = MAX_EVENTS_BYTES if events else MAX_POLL_BYTES
        if length > limit:
            self._refuse(413, f"Bodies are limited to {limit} bytes.")
            return None
        request = _Request(method, path, headers, length, close)
        if events:
            request.close = close or not headers.get("user-agent", "").startswith(PAWPRINT_CLIENT)
            request.events = events
            self.server.call_started()
            if self.intake.budget.try_acquire(length + CALL_BYTES):
                request.reserved = length + CALL_BYTES
            request.discard = not request.reserved
        if headers.get("expect", "").lower() == "100-continue":
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return request

    def _handle(self, request: _Request, body: bytes) -> None:
        if request.method == "GET" and request.path == "/v1/status":
            self._call(request, lambda: Answer(200, self.intake.status()))
        elif request.method != "POST":
            self._reply(
                request, 404, {"message": "Not found: use the middleware protocol's POST endpoints or GET /v1/status."}
            )
        elif request.events is not None:
            self._events(request, *request.events, body)
        elif poll := MIDDLEWARE_PATH.match(request.path):
            parsed = self._json(request, body)
            if parsed is not None:
                self.busy = True
                self._stop_reading()
                self.server.poll(unquote(poll[1]), parsed[0], lambda answer: self._answer_poll(request, answer))
        else:
            self._reply(request, 404, {"message": "Not found: POST /v1/services/{service}/middleware or .../events."})

    def _events(self, request: _Request, service: str, trace_name: str, body: bytes) -> None:
        then = None
        parsed = self._json(request, body)
        if parsed is not None:
            then = self._call(request, lambda: self.intake.events(service, trace_name, parsed[0], body)).then
        if then is None:
            self.server.call_ended(request.reserved)
        else:
            self.server.after_reply(then, request.reserved)

    def _discarded(self, request: _Request) -> None:
        """An events body the memory cap had no room for, read and thrown away."""
        assert request.events is not None
        service, trace_name = request.events
        if request.headers.get("user-agent", "").startswith(PAWPRINT_CLIENT):
            self._reply(request, 503, {"message": "The agent is at its memory cap; retry."}, b"Retry-After: 1\r\n")
        else:
            self._call(request, lambda: self.intake.events_discarded(service, trace_name))
        self.server.call_ended(0)

    def _json(self, request: _Request, body: bytes) -> tuple[object] | None:
        try:
            return (json.loads(body),)
        except (ValueError, RecursionError) as error:
            self._reply(request, 400, {"message": "Bad request body", "detail": f"the body is not JSON: {error}"})
            return None

    def _call(self, request: _Request, handler: Callable[[], Answer]) -> Answer:
        try:
            answer = handler()
        except Exception as error:  # a bug must cost one reply, not the agent
            log_event(logging.ERROR, "request_failed", path=request.path, error=repr(error))
            answer = Answer(500, {"message": "Internal error", "detail": repr(error)})
        self._reply(request, answer.status, answer.body)
        return answer

    def _answer_poll(self, request: _Request, answer: Answer) -> None:
        self.busy = False
        if self.closing:
            return
        self._reply(request, answer.status, answer.body)
        if not self.closing:
            self._start_reading()
            self._serve()

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request this server cannot read on, and close the connection."""
        self._reply(_Request("", "", {}, 0, close=True), status, {"message": message})

    def _reply(self, request: _Request, status: int, body: dict[str, Any], extra: bytes = b"") -> None:
        self._send(self.server.reply(status, body, request.close, extra))
        if logger.isEnabledFor(logging.DEBUG):
            log_event(logging.DEBUG, "middleware_request", client=self.client, status=status,
                      request=f"{request.method} {request.path}")  # fmt: skip
        if request.close:
            self._close_after_reply()
