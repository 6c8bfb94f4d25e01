"""Uploading from the spool, and the spool itself: retry rules on a fake clock, order and limits on a real disk."""

import gzip
import json
import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.client import ApiError, TransportError, UploadReply, parse_retry_after
from agent.health import ControlPlaneHealth
from agent.spool import Spool, SpooledBatch, SpoolError, SpoolFull
from agent.upload import Backoff, Outcome, Uploader
from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT
from tests.agent.fakes import START, FakeClock, FakeControlPlane


def witness(n: int) -> dict:
    exchange = {"request": {"method": "GET", "url": f"https://api.shop.test/items/{n}"}, "response": {"status": 200}}
    return witness_from_entry(exchange)


def spooled(spool: Spool, trace_id: str = "trc_1", entries: int = 3) -> SpooledBatch:
    witnesses = [witness(n) for n in range(entries)]
    body = gzip.compress(
        json.dumps({"batch_id": "b", "witness_format": WITNESS_FORMAT, "witnesses": witnesses}).encode()
    )
    return spool.append(project="shop", trace_id=trace_id, batch_id="b", entries=entries, dropped={}, body=body)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    spool.open()
    yield spool
    spool.close()


def uploader(sink: FakeControlPlane, clock: FakeClock, interrupt: threading.Event | None = None) -> Uploader:
    interrupt = interrupt or threading.Event()
    wake = threading.Event()
    if interrupt.is_set():
        wake.set()
    return Uploader(
        sink, ControlPlaneHealth("http://pawprint.test", recovered=wake), clock=clock, interrupt=interrupt, wake=wake,
        backoff_initial=1.0, backoff_max=8.0,
    )  # fmt: skip


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


def test_it_retries_server_errors_and_network_errors_with_growing_delays(spool: Spool) -> None:
    clock = FakeClock()
    sink = FakeControlPlane(server_error(), TransportError("connection refused"), server_error())
    assert uploader(sink, clock).send(spooled(spool)) is Outcome.SENT
    assert len(sink.uploads) == 4
    assert {call["batch_id"] for call in sink.uploads} == {"b"}  # a retry is counted once by the server
    assert len(clock.waits) == 3
    assert 0.8 <= clock.waits[0] <= 1.0 and 1.6 <= clock.waits[1] <= 2.0 and 3.2 <= clock.waits[2] <= 4.0


def test_it_honours_retry_after_on_429_and_remembers_it_was_throttled(spool: Spool) -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(429, "throttled", "Slow down.", retry_after=7.0))
    send = uploader(sink, clock)
    item = spooled(spool)
    sink.replies.append(ApiError(429, "throttled", "Slow down.", retry_after=7.0))
    sink.replies.append(TransportError("gone"))
    assert send.send(item) is Outcome.SENT
    assert clock.waits[:2] == [7.0, 7.0]
    assert not send.rate_limited  # the last answer was a success


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_retried_since_someone_may_fix_it(status: int, spool: Spool, caplog) -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(status, "nope", "Invalid key."), ApiError(status, "nope", "Invalid key."))
    assert uploader(sink, clock).send(spooled(spool)) is Outcome.SENT
    assert caplog.text.count("event=api_key_refused") == 1  # once a minute, not once per attempt
    assert "AKITA_API_KEY_ID" in caplog.text


def test_a_closed_trace_is_gone_and_bad_input_is_rejected(spool: Spool, caplog) -> None:
    clock = FakeClock()
    sink = FakeControlPlane(ApiError(410, "gone", "This trace is closed and no longer accepts witnesses."))
    assert uploader(sink, clock).send(spooled(spool)) is Outcome.GONE
    assert "no longer accepts witnesses" in caplog.text  # the server's error.message is logged
    for status in (400, 404, 413):
        sink.replies.append(ApiError(status, "invalid", "entries[0].request.url: is required", field="entries[0]"))
        assert uploader(sink, clock).send(spooled(spool)) is Outcome.REJECTED
    assert clock.waits == []


def test_a_duplicate_reply_counts_as_delivered(spool: Spool) -> None:
    sink = FakeControlPlane(UploadReply(accepted=0, duplicate=True))
    assert uploader(sink, FakeClock()).send(spooled(spool)) is Outcome.DUPLICATE


def test_an_interrupt_ends_the_retries_and_the_batch_stays_spooled(spool: Spool) -> None:
    interrupt = threading.Event()
    interrupt.set()
    item = spooled(spool)
    assert uploader(FakeControlPlane(server_error()), FakeClock(), interrupt).send(item) is Outcome.INTERRUPTED
    assert spool.oldest() == item


def test_an_unreachable_control_plane_is_reported_once_a_minute_and_its_return_once(spool: Spool, caplog) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    sink = FakeControlPlane(*[TransportError("connection refused")] * 5)
    assert uploader(sink, FakeClock()).send(spooled(spool)) is Outcome.SENT
    assert caplog.text.count("event=control_plane_unreachable") == 1
    assert caplog.text.count("event=control_plane_reachable ") == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("Mon, 02 Mar 2026 09:00:30 GMT", 30.0), ("Mon, 02 Mar 2026 08:00:00 GMT", 0.0), ("soon", None),
     (None, None)],
)  # fmt: skip
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=START) == seconds


def test_the_spool_gives_batches_back_in_order_even_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    spool.open()
    first, _, third = (spooled(spool, trace_id=f"trc_{n}") for n in range(3))
    spool.remove(first)
    spool.close()
    again = Spool(tmp_path / "spool", max_bytes=1_000_000)
    assert [item.trace_id for item in again.open()] == ["trc_1", "trc_2"]
    oldest = again.oldest()
    assert oldest is not None
    assert json.loads(gzip.decompress(oldest.body()))["witnesses"] == [witness(0), witness(1), witness(2)]
    fourth = spooled(again, trace_id="trc_3")
    assert fourth.sequence == third.sequence + 1
    again.close()


def test_the_spool_refuses_a_batch_over_its_size_and_a_second_agent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=600)
    spool.open()
    assert spooled(spool).size > 300
    with pytest.raises(SpoolFull):
        spooled(spool)
    with pytest.raises(SpoolError, match="another agent uses the spool folder"):
        Spool(tmp_path / "spool", max_bytes=600).open()
    spool.close()


def test_an_unreadable_spool_file_is_logged_and_skipped(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    (folder / "000000000007.batch").write_bytes(b"not json\n")
    (folder / "000000000008.tmp").write_bytes(b"half written")
    spool = Spool(folder, max_bytes=1000)
    assert spool.open() == []
    assert "event=spool_file_unreadable" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]
    spool.close()
