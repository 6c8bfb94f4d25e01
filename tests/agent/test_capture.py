"""From events to batches: obfuscation, sampling, the memory cap, and how every lost entry is counted."""

import json
import multiprocessing
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from agent.batches import Batcher, MemoryBudget
from agent.client import Activation, ApiError, PollReply, TransportError
from agent.daemon import AgentConfig, Daemon, drop_counts
from agent.projects import TRACE_GRACE, Project
from agent.redact import Redactor
from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT, check_witness, read_bodies
from tests.agent.fakes import START, FakeClock, FakeControlPlane, eventually, post_events, running


def events(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"client_name": "web", "trace_events": list(entries), "no_more_events": False, **extra}


def invariant_holds(daemon: Daemon, project: str = "shop") -> bool:
    """Every entry the agent received is uploaded, pending, or dropped by the agent itself."""
    counts = daemon.accounting.project(project)
    agent_drops = {k: v for k, v in counts["dropped"].items() if k not in ("queue_full", "agent_unreachable")}
    return bool(counts["received"] == counts["uploaded"] + counts["pending"] + sum(agent_drops.values()))


def test_batches_are_cut_by_count_by_bytes_and_by_age() -> None:
    clock = FakeClock()
    batcher = Batcher(batch_size=2, batch_bytes=100, max_delay=2.0, budget=MemoryBudget(10_000), clock=clock)
    for n in range(3):
        batcher.add("shop", "trc_1", b'{"n":%d}' % n)
    assert [len(b.entries) for b in batcher.take()] == [2]
    batcher.add("shop", "trc_2", b"x" * 120)  # over batch_bytes on its own
    assert [b.trace_id for b in batcher.take()] == ["trc_2"]
    assert batcher.next_due_in() == 2.0
    clock.seconds += 2.0
    [late] = batcher.take()
    assert json.loads(late.body("web-1")) == {
        "daemon_name": "web-1",
        "batch_id": late.batch_id,
        "witness_format": WITNESS_FORMAT,
        "witnesses": [{"n": 2}],
    }


def test_the_memory_budget_refuses_entries_until_spooled_batches_give_it_back() -> None:
    budget = MemoryBudget(100)
    batcher = Batcher(batch_size=10, batch_bytes=1000, max_delay=2.0, budget=budget, clock=FakeClock())
    assert batcher.add("shop", "trc_1", b"x" * 60)
    assert not batcher.add("shop", "trc_1", b"x" * 60)
    batcher.seal()
    [batch] = batcher.take()
    budget.release(batch.size)
    assert batcher.add("shop", "trc_1", b"x" * 60)


def test_drops_ride_with_the_next_batch_of_their_trace_or_an_empty_one() -> None:
    clock = FakeClock()
    batcher = Batcher(batch_size=10, batch_bytes=1000, max_delay=2.0, budget=MemoryBudget(1000), clock=clock)
    batcher.add_drops("shop", "trc_1", {"queue_full": 3})
    batcher.add("shop", "trc_1", b"{}")
    batcher.add_drops("shop", "trc_1", {"queue_full": 1, "buffer_full": 2})
    batcher.add_drops("shop", "trc_2", {"spool_full": 5})
    clock.seconds += 2
    bodies = {b.trace_id: json.loads(b.body("web-1")) for b in batcher.take()}
    assert bodies["trc_1"]["dropped"] == {"buffer_full": 2, "queue_full": 4}
    assert bodies["trc_1"]["witnesses"] == [{}]
    assert bodies["trc_2"]["witnesses"] == [] and bodies["trc_2"]["dropped"] == {"spool_full": 5}


def test_only_well_formed_drop_reasons_and_counts_are_taken_from_a_middleware() -> None:
    reported = {"queue_full": 3, "Bad Reason": 1, "x" * 41: 1, "agent_unreachable": -2, "capture_failed": True}
    reported["sampled_out"] = 1.5  # type: ignore[assignment]
    assert drop_counts(reported) == Counter(queue_full=3)
    assert drop_counts(["queue_full"]) == Counter()


def daemon_with_trace(config: AgentConfig, rate: float = 1.0, **kwargs: Any) -> tuple[Daemon, Activation]:
    kwargs.setdefault("clock", FakeClock())
    config = replace(config, redact_in_worker=False)  # a daemon that is not run has no worker process to stop
    daemon = Daemon(config, FakeControlPlane(), rng=random.Random(3), **kwargs)
    trace = Activation("trc_1", "brisk-teal-heron-482", START + timedelta(minutes=5), rate)
    daemon.project("shop").apply(PollReply([trace], []), START)
    return daemon, trace


def test_events_are_obfuscated_and_entries_it_cannot_read_are_counted(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    daemon, trace = daemon_with_trace(agent_config(listen=None))
    secret = entry(body={"email": "ada.lovelace@mail.test", "card": "4111 1111 1111 1111"})
    not_an_entry: Any = "not an entry"
    status, reply = post_events(daemon, "shop", trace.trace_name, events(secret, {"request": {}}, not_an_entry))
    assert (status, reply) == (202, {"trace_event_details": {"drops": 0}})  # answered before it was read
    daemon.batcher.seal()
    [batch] = daemon.batcher.take()
    text = b"".join(batch.entries).decode()
    assert "ada.lovelace" not in text and "4111" not in text
    assert [read_bodies(check_witness(json.loads(e))) for e in batch.entries] == [witness_from_entry(secret)]
    assert batch.dropped == {"invalid_entry": 2}
    assert daemon.accounting.project("shop") == {"received": 3, "uploaded": 0, "pending": 1,
                                                 "dropped": {"invalid_entry": 2}}  # fmt: skip
    assert invariant_holds(daemon)


def test_sampling_keeps_about_the_rate_and_counts_the_rest(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    daemon, trace = daemon_with_trace(agent_config(listen=None, batch_size=5000), rate=0.25)
    post_events(daemon, "shop", trace.trace_name, events(*[entry() for _ in range(2000)]))
    counts = daemon.accounting.project("shop")
    assert 400 <= counts["pending"] <= 600
    assert counts["dropped"] == {"sampled_out": 2000 - counts["pending"]}


def test_the_bytes_held_for_a_body_pay_for_its_entries_so_a_full_budget_loses_none_of_them(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    daemon, trace = daemon_with_trace(agent_config(listen=None, max_memory_bytes=100_000, batch_size=1000))
    body = events(*[entry() for _ in range(20)])
    raw = json.dumps(body).encode()
    assert daemon.budget.try_acquire(len(raw))  # what the listener holds while the body waits
    assert daemon.budget.try_acquire(daemon.budget.limit - daemon.budget.used)  # other bodies fill the rest
    answer = daemon.events("shop", trace.trace_name, body, raw)
    daemon.take([(answer.then, len(raw))])
    assert daemon.accounting.project("shop") == {"received": 20, "uploaded": 0, "pending": 20, "dropped": {}}
    daemon.batcher.seal()
    [batch] = daemon.batcher.take()
    assert daemon.budget.used == daemon.budget.limit - len(raw) + batch.size  # the rest of the body given back
    assert batch.size < len(raw)


def test_entries_over_the_memory_cap_are_dropped_as_buffer_full(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    daemon, trace = daemon_with_trace(agent_config(listen=None, max_memory_bytes=3000, batch_size=1000))
    post_events(daemon, "shop", trace.trace_name, events(*[entry() for _ in range(20)]))
    dropped = daemon.accounting.project("shop")["dropped"]["buffer_full"]
    assert 0 < dropped < 20
    assert daemon.budget.used <= 3000
    assert daemon.accounting.project("shop")["dropped"] == {"buffer_full": dropped}
    answer = daemon.events_discarded("shop", trace.trace_name)
    assert (answer.status, answer.body, answer.then) == (202, {"trace_event_details": {"drops": 1}}, None)
    assert daemon.accounting.project("shop")["dropped"] == {"buffer_full": dropped + 1}
    assert invariant_holds(daemon)


def test_pre_obfuscated_events_are_taken_as_they_are_with_the_drops_the_middleware_reports(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    daemon, trace = daemon_with_trace(agent_config(listen=None))
    body = events(entry(), redacted=True, dropped={"queue_full": 4})
    assert post_events(daemon, "shop", trace.trace_name, body) == (202, {"trace_event_details": {"drops": 0}})
    daemon.batcher.seal()
    [batch] = daemon.batcher.take()
    # made from the entry as sent: the middleware obfuscated it
    assert [read_bodies(check_witness(json.loads(e))) for e in batch.entries] == [witness_from_entry(entry())]
    assert batch.dropped == {"queue_full": 4}
    assert daemon.accounting.project("shop")["dropped"] == {"queue_full": 4}


def test_events_for_an_unknown_trace_are_refused_and_late_ones_for_a_closed_trace_are_counted(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    clock = FakeClock()
    daemon, trace = daemon_with_trace(agent_config(listen=None), clock=clock)
    status, reply = post_events(daemon, "shop", "no-such-trace", events(entry()))
    assert (status, reply["message"]) == (404, "Trace not found")
    daemon.project("shop").apply(PollReply([], [trace.trace_id]), START)
    assert post_events(daemon, "shop", trace.trace_name, events(entry()))[0] == 202  # a straggler: still taken
    clock.seconds += TRACE_GRACE.total_seconds() + 1
    assert post_events(daemon, "shop", trace.trace_name, events(entry(), entry())) == (
        202,
        {"trace_event_details": {"drops": 2}},
    )
    assert daemon.accounting.project("shop")["dropped"] == {"trace_closed": 2, "unknown_trace": 1}
    assert invariant_holds(daemon)


def test_a_middleware_poll_learns_of_every_difference_from_the_client_s_list() -> None:
    project = Project("shop", listed=False)
    one = Activation("trc_1", "one", START + timedelta(minutes=5), 1.0)
    two = Activation("trc_2", "two", START + timedelta(minutes=5), 0.5)
    project.apply(PollReply([one, two], []), START)
    diff = project.diff(["trc_1", "trc_stale"])
    assert diff["deactivated_traces"] == ["trc_stale"]  # unknown here: e.g. from before the agent restarted
    [activated] = diff["activated_traces"]
    assert activated == {
        "trace_name": "two",
        "trace_id": "trc_2",
        "service_id": "shop",
        "sample_rate": 0.5,
        "sampling_rate": 0.5,
        "filter_third_party_trackers": False,
        "ends_at": "2026-03-02T09:05:00Z",
    }
    assert project.expire(START + timedelta(minutes=5, seconds=2)) == [one, two]
    assert project.diff(["trc_1", "trc_2"]) == {"activated_traces": [], "deactivated_traces": ["trc_1", "trc_2"]}


def test_a_full_spool_counts_the_batch_and_the_trace_hears_of_it_once_there_is_room(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane(*[TransportError("connection refused")] * 3)
    config = agent_config(listen=None, spool_max_bytes=1200, batch_size=5, backoff_initial=0.3)
    with running(Daemon(config, control_plane)) as daemon:

        def lost(reason: str) -> int:
            return int(daemon.accounting.project("shop")["dropped"].get(reason, 0))

        trace = control_plane.start_trace("outage")
        eventually(lambda: daemon.project("shop").active())
        for _ in range(4):  # the first batch fills the spool; the next ones find it full
            post_events(daemon, "shop", "outage", events(*[entry() for _ in range(5)]))

        def reported(reason: str) -> int:
            batches = {c["batch_id"]: c for c in control_plane.uploads}.values()  # retries repeat a batch id
            return sum(c.get("dropped", {}).get(reason, 0) for c in batches)

        eventually(lambda: reported("spool_full") and reported("spool_full") == lost("spool_full"))
        eventually(lambda: daemon.accounting.project("shop")["pending"] == 0)
    counts = daemon.accounting.project("shop")
    uploaded = {c["batch_id"]: c for c in control_plane.uploads}.values()
    assert counts["uploaded"] == sum(len(c["witnesses"]) for c in uploaded) > 0
    assert counts["dropped"] == {"spool_full": 20 - counts["uploaded"]}
    assert invariant_holds(daemon)
    assert all(c["trace_id"] == trace.trace_id for c in uploaded)


def test_a_rejected_batch_is_counted_and_reported_with_a_later_batch_of_its_trace(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane(ApiError(400, "invalid", "entries[0].request.url: is required"))
    with running(Daemon(agent_config(listen=None), control_plane)) as daemon:
        control_plane.start_trace("strict")
        eventually(lambda: daemon.project("shop").active())
        post_events(daemon, "shop", "strict", events(entry(), entry()))
        eventually(lambda: len(control_plane.uploads) == 2)
    rejected, report = control_plane.uploads
    assert len(rejected["witnesses"]) == 2
    assert report["witnesses"] == [] and report["dropped"] == {"rejected": 2}
    assert daemon.accounting.project("shop")["dropped"] == {"rejected": 2}


def test_entries_are_obfuscated_in_a_worker_process_and_by_the_agent_itself_if_that_process_dies(
    entry: Callable[..., dict], caplog: pytest.LogCaptureFixture
) -> None:
    not_an_entry: Any = []
    calls = [(json.dumps(events(entry(body={"email": "ada@mail.test"}), not_an_entry)).encode(), False)]
    others = set(multiprocessing.active_children())
    redactor = Redactor(in_worker=True)
    try:
        [[clean, error]] = redactor(calls)
        [worker] = set(multiprocessing.active_children()) - others
        assert worker.pid != os.getpid()
        assert isinstance(clean, bytes) and b"ada@" not in clean and isinstance(error, str)
        worker.kill()
        worker.join()
        assert redactor(calls) == [[clean, error]]  # obfuscated here this time, and nothing lost
        assert "event=redact_worker_failed" in caplog.text
        assert redactor(calls) == [[clean, error]]
        assert len(set(multiprocessing.active_children()) - others) == 1  # a new worker
    finally:
        redactor.close()
    assert set(multiprocessing.active_children()) - others == set()
