"""The middleware server's capture thread, with an intake that records what it is handed."""

import gc
import socket
import threading
import weakref
from typing import Any

from agent.batches import MemoryBudget
from agent.listen import TAKEN_AT_ONCE, Answer, MiddlewareServer


class Call:
    """What an events call leaves for the intake's `take` (a real one holds the body)."""


class RecordingIntake:
    """Answers every events call 202; its first `take` waits for `go`; each notes how many calls it was handed
    before are still alive."""

    def __init__(self) -> None:
        self.budget = MemoryBudget(64 * 1024 * 1024)
        self.holding = threading.Event()  # the first `take` waits
        self.go = threading.Event()
        self.lists: list[list[weakref.ref[Call]]] = []
        self.alive_at_each_take: list[int] = []
        self.taken = threading.Semaphore(0)

    def events(self, service: str, trace_name: str, body: object, raw: bytes) -> Answer:
        return Answer(202, {"ok": True}, then=Call())

    def take(self, thens: list[tuple[Any, int]]) -> None:
        if not self.lists:
            self.holding.set()
            self.go.wait(30)
        gc.collect()
        self.alive_at_each_take.append(sum(ref() is not None for calls in self.lists for ref in calls))
        self.lists.append([weakref.ref(then) for then, _ in thens])
        self.taken.release()

    def middleware_poll(self, service: str, body: object) -> Answer:
        raise AssertionError("not polled")

    def events_discarded(self, service: str, trace_name: str) -> Answer:
        raise AssertionError("the budget has room")

    def status(self) -> dict[str, Any]:
        return {}


def test_each_list_of_calls_taken_is_let_go_of_before_the_next_so_the_memory_budget_counts_every_body() -> None:
    intake = RecordingIntake()
    server = MiddlewareServer(("127.0.0.1", 0), intake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = b'{"trace_events": []}'
    request = (
        b"POST /v1/services/shop/traces/t/events HTTP/1.1\r\nUser-Agent: pawprint-django/0.2.0\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    try:
        with socket.create_connection(server.address, timeout=30) as sock:
            sock.sendall(request)  # its list is taken first, and the intake holds the capture thread
            assert intake.holding.wait(30)
            count = TAKEN_AT_ONCE + 200  # answered while the capture thread waits: more than one list's worth
            sock.sendall(request * count)
            replies = b""
            while replies.count(b'{"ok": true}') < count + 1:
                replies += sock.recv(65536)
        intake.go.set()
        for _ in range(3):  # the first list, then a full one (the last calls may come in a fourth)
            assert intake.taken.acquire(timeout=30)
        while sum(len(calls) for calls in intake.lists) < count + 1:
            assert intake.taken.acquire(timeout=30)
        assert [len(calls) for calls in intake.lists][:2] == [1, TAKEN_AT_ONCE]
        # when a list is taken, the calls of the lists before it are gone: their bodies' bytes, given back to
        # the budget by `take`, are no longer held
        assert intake.alive_at_each_take == [0] * len(intake.lists)
    finally:
        intake.go.set()
        server.shutdown()
        server.server_close()
