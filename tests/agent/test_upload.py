"""The agent's retry rules, batching and capture, on a fake clock and a fake control plane: nothing sleeps."""

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.client import Activation, ApiError, PollReply, TransportError, UploadReply, parse_retry_after
from agent.daemon import ActiveTraces, AgentConfig, Daemon
from agent.upload import Backoff, Batch, Batcher, Outcome, Uploader

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
    """Answers uploads from a script of replies or errors; records what it was sent."""

    def __init__(self, *replies: UploadReply | Exception) -> None:
        self.replies = list(replies)
        self.uploads: list[dict[str, Any]] = []

    def upload(self, **call: Any) -> UploadReply:
        self.uploads.append(call)
        reply = self.replies.pop(0) if self.replies else UploadReply(accepted=len(call["entries"]), duplicate=False)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def heartbeat(self, *, daemon_name: str, version: str, projects: list[str]) -> int:
        return 20

    def poll(self, *, project: str, daemon_name: str, active_trace_ids: list[str], timeout: float) -> PollReply:
        return PollReply([], [])


def uploader(sink: FakeControlPlane, clock: FakeClock, stopping: threading.Event | None = None) -> Uploader:
    return Uploader(
        sink, project="shop", daemon_name="web-1", clock=clock, stopping=stopping or threading.Event(),
        backoff_initial=1.0, backoff_max=8.0,
    )  # fmt: skip


def a_batch(size: int = 3) -> Batch:
    return Batch("trc_1", [{"n": i} for i in range(size)])


def server_error() -> ApiError:
    return ApiError(503, "unavailable", "Try again.")


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_backoff_jitter_only_shortens_a_delay() -> None:
    backoff = Backoff(initial=4.0, maximum=4.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next() for _ in range(50)]
    assert all(2.0 <= delay <= 4.0 for delay in delays)
    assert len(set(delays)) > 1


def test_it_retries_server_errors_and_network_errors_with_growing_delays() -> None:
    clock = FakeClock()
    sink = FakeControlPlane(server_error(), TransportError("connection refused"), server_error())
    batch = a_batch()
    assert uploader(sink, clock).send(batch) is Outcome.SENT
    assert len(sink.uploads) == 4
    assert {call["batch_id"] for call in sink.uploads} == {batch.batch_id}  # a retry is counted once by the server
    assert len(clock.waits) == 3
    assert 0.8 <= clock.waits[0] <= 1.0 and 1.6 <= clock.waits[1] <= 2.0 and 3.2 <= clock.waits[2] <= 4.0


def test_it_honours_retry_after_on_429() -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(429, "throttled", "Slow down.", retry_after=7.0))
    assert uploader(sink, clock).send(a_batch()) is Outcome.SENT
    assert clock.waits == [7.0]


def test_a_429_without_retry_after_backs_off() -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(429, "throttled", "Slow down."))
    assert uploader(sink, clock).send(a_batch()) is Outcome.SENT
    assert len(clock.waits) == 1 and 0.8 <= clock.waits[0] <= 1.0


@pytest.mark.parametrize("status", [410, 400, 401, 403, 404, 413])
def test_it_drops_a_batch_the_server_refuses_for_good(status: int, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(status, "nope", "This trace is closed and no longer accepts witnesses."))
    assert uploader(sink, clock).send(a_batch()) is Outcome.DROPPED
    assert len(sink.uploads) == 1 and clock.waits == []
    assert "no longer accepts witnesses" in caplog.text  # the server's error.message is logged


def test_a_duplicate_reply_counts_as_delivered() -> None:
    sink = FakeControlPlane(UploadReply(accepted=0, duplicate=True))
    assert uploader(sink, FakeClock()).send(a_batch()) is Outcome.DUPLICATE


def test_stopping_interrupts_retries_and_the_final_flush_gives_up_at_its_deadline() -> None:
    clock, stopping = FakeClock(), threading.Event()
    stopping.set()
    sink = FakeControlPlane(*[server_error()] * 20)
    assert uploader(sink, clock, stopping).send(a_batch()) is Outcome.INTERRUPTED
    assert uploader(sink, clock, stopping).send(a_batch(), deadline=clock.monotonic() + 10) is Outcome.GAVE_UP
    assert sum(clock.waits) <= 10


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("Mon, 02 Mar 2026 09:00:30 GMT", 30.0), ("Mon, 02 Mar 2026 08:00:00 GMT", 0.0), ("soon", None),
     (None, None)],
)  # fmt: skip
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=START) == seconds


def test_batches_are_cut_by_size_and_by_age() -> None:
    clock = FakeClock()
    batcher = Batcher(batch_size=2, max_delay=2.0, max_buffered=100, clock=clock)
    batcher.add("trc_1", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert [len(b.entries) for b in batcher.take()] == [2]
    assert batcher.next_due_in() == 2.0
    clock.seconds += 1.0
    assert batcher.take() == []
    clock.seconds += 1.0
    assert [b.entries for b in batcher.take()] == [[{"n": 3}]]
    assert batcher.pending == 3


def test_live_capture_stops_buffering_when_full_but_a_har_replay_does_not() -> None:
    batcher = Batcher(batch_size=10, max_delay=2.0, max_buffered=5, clock=FakeClock())
    assert batcher.add("trc_1", [{}] * 8) == 5
    assert batcher.add("trc_1", [{}] * 8, bounded=False) == 8


def test_a_trace_is_dropped_locally_when_its_end_time_passes_unless_the_server_still_says_active() -> None:
    traces = ActiveTraces()
    trace = Activation("trc_1", "brisk-teal-heron-482", START + timedelta(minutes=15), 1.0)
    assert traces.activate(trace)
    assert traces.expire(START) == []
    assert traces.expire(START + timedelta(minutes=15)) == [trace]
    assert traces.current() == []
    # our clock may run ahead of the server's: a trace it still announces stays until it says otherwise
    traces.activate(trace)
    assert traces.expire(START + timedelta(minutes=16)) == []
    assert traces.deactivate("trc_1") == trace


def daemon_with(rate: float, clock: FakeClock) -> Daemon:
    config = AgentConfig(project="shop", daemon_name="web-1", batch_size=1000)
    daemon = Daemon(config, FakeControlPlane(), clock=clock, rng=random.Random(3))
    daemon.apply(PollReply([Activation("trc_1", "t", START + timedelta(minutes=5), rate)], []))
    return daemon


def test_capture_keeps_about_the_sampling_rate_of_entries(entry: Callable[..., dict]) -> None:
    daemon = daemon_with(0.25, FakeClock())
    result = daemon.capture([entry() for _ in range(2000)])
    assert 400 <= result.accepted <= 600
    assert daemon.stats.snapshot()["dropped_sampling"] == 2000 - result.accepted


def test_capture_obfuscates_and_counts_entries_it_cannot_read(entry: Callable[..., dict]) -> None:
    daemon = daemon_with(1.0, FakeClock())
    secret = entry(body={"email": "ada.lovelace@mail.test", "card": "4111 1111 1111 1111"})
    result = daemon.capture([secret, {"request": {}}, "not an entry"])
    assert (result.accepted, result.invalid) == (1, 2)
    daemon.batcher.seal()
    [batch] = daemon.batcher.take()
    text = str(batch.entries)
    assert "ada.lovelace" not in text and "4111" not in text


def test_capture_drops_everything_once_the_trace_has_ended(entry: Callable[..., dict]) -> None:
    clock = FakeClock()
    daemon = daemon_with(1.0, clock)
    clock.seconds += 5 * 60 + 2  # the server's own deactivation gets a second to come first
    result = daemon.capture([entry()])
    assert (result.accepted, result.dropped) == (0, 1)
    assert daemon.traces.current() == []
