"""Fakes at the agent's boundaries (the clock, the control plane) and helpers to run a daemon in a test."""

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.client import Activation, ApiError, MiddlewareClient, PollReply, UploadReply
from agent.daemon import Daemon
from apimodel.witness import InvalidEntry
from apimodel.witness_form import WITNESS_FORMAT, check_witness, read_bodies

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """Time moves only when the code under test waits."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.waits.append(round(seconds, 3))
        self.seconds += seconds
        return event.is_set()


class FakeControlPlane:
    """The control plane's daemon API in memory: traces the test starts and stops, a long poll that waits for
    them, uploads answered from a script of replies or errors (then 202), and everything recorded."""

    def __init__(self, *replies: UploadReply | Exception, projects: tuple[str, ...] = ("shop",)) -> None:
        self.replies = list(replies)
        self.projects = set(projects)
        self.uploads: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.traces: dict[str, Activation] = {}
        self.changed = threading.Condition()
        self.poll_hold = 0.5
        self.heartbeat_interval = 20

    def start_trace(self, name: str, minutes: float = 15, sampling_rate: float = 1.0) -> Activation:
        ends_at = datetime.now(UTC) + timedelta(minutes=minutes)
        trace = Activation(f"trc_{name}", name, ends_at, sampling_rate)
        with self.changed:
            self.traces[trace.trace_id] = trace
            self.changed.notify_all()
        return trace

    def stop_trace(self, trace: Activation) -> None:
        with self.changed:
            del self.traces[trace.trace_id]
            self.changed.notify_all()

    def upload(self, *, project: str, trace_id: str, body: bytes) -> UploadReply:
        call = {"project": project, "trace_id": trace_id, **json.loads(gzip.decompress(body))}
        self.uploads.append(call)
        refusal = _refusal(call)
        if refusal is not None:  # as the control plane would: a batch it cannot take is a 400
            raise refusal
        reply = self.replies.pop(0) if self.replies else UploadReply(accepted=len(call["witnesses"]), duplicate=False)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def heartbeat(
        self,
        *,
        daemon_name: str,
        version: str,
        projects: list[str],
        middleware: list[MiddlewareClient],
        traffic: list[dict[str, Any]],
    ) -> int:
        self.heartbeats.append({"projects": projects, "middleware": middleware, "traffic": traffic})
        return self.heartbeat_interval

    def poll(self, *, project: str, daemon_name: str, active_trace_ids: list[str], timeout: float) -> PollReply:
        if project not in self.projects:
            raise ApiError(404, "not_found", "No such project.")
        deadline = time.monotonic() + self.poll_hold
        with self.changed:
            while True:
                activated = [t for t in self.traces.values() if t.trace_id not in active_trace_ids]
                deactivated = [i for i in active_trace_ids if i not in self.traces]
                if activated or deactivated or time.monotonic() >= deadline:
                    return PollReply(activated, deactivated)
                self.changed.wait(deadline - time.monotonic())

    def witnesses(self, trace: Activation) -> list[dict[str, Any]]:
        """The trace's witnesses as the control plane stores them (checked: bodies' schemas read)."""
        return [w for call in self.uploads if call["trace_id"] == trace.trace_id for w in call["witnesses"]]


def post_events(daemon: Daemon, project: str, trace_name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What the middleware server does with an events call: the answer, then the work after it."""
    answer = daemon.events(project, trace_name, body, json.dumps(body).encode())
    if answer.then is not None:
        daemon.take([(answer.then, 0)])
    return answer.status, answer.body


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds until `predicate()` is true; fails after `timeout`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """Run a daemon on a thread; stop it (flushing) on the way out."""
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    assert daemon.started.wait(10)
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(30)
        assert not thread.is_alive()
        assert daemon.join(10)  # the last long poll ended too


def _refusal(call: dict[str, Any]) -> ApiError | None:
    """The control plane's answer to a batch that is not `witness_format` WITNESS_FORMAT or holds a witness that
    fails its check; None for a good batch, whose witnesses are made the ones stored read back (in place)."""
    if call.get("witness_format") != WITNESS_FORMAT:
        return ApiError(400, "invalid", "another witness_format", field="witness_format")
    for index, witness in enumerate(call["witnesses"]):
        try:
            read_bodies(check_witness(witness))
        except InvalidEntry as error:
            return ApiError(400, "invalid", error.message, field=f"witnesses[{index}].{error.field}")
    return None
