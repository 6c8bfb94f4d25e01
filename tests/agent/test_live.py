"""The reference daemon against the real server (pytest-django's threaded live server, same process).

The long poll reaches the daemon through the in-process notifier; polls are held 1 s instead of
25 so a stopped daemon's last poll ends quickly.
"""

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.client import ControlPlaneClient, UploadReply
from agent.daemon import AgentConfig, Daemon
from projects.models import Project, User
from projects.services import api_key_create
from traces.models import Trace, WitnessBatch
from traces.services import trace_start, trace_stop

ROOT = Path(__file__).resolve().parents[2]
SMALL_HAR = ROOT / "tests" / "fixtures" / "small.har"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_polls(settings: Any) -> None:
    settings.LONG_POLL_SECONDS = 1.0


@pytest.fixture
def agent_key(alice: User, project: Project) -> str:
    key, secret = api_key_create(user=alice, name="agent", scope="ingest")
    return f"{key.public_id}:{secret}"


class RecordingClient(ControlPlaneClient):
    """The real client, remembering every entry it uploaded."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(url, key, timeout=10)
        self.uploaded: list[dict[str, Any]] = []

    def upload(self, **call: Any) -> UploadReply:
        self.uploaded.extend(call["entries"])
        return super().upload(**call)


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    assert daemon.started.wait(5)
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(30)
        assert not thread.is_alive()
        assert daemon.join(10)  # the last long poll ended too, before the test database goes


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds until `predicate()` is true; fails after `timeout`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def stored_witnesses(trace: Trace) -> list[dict[str, Any]]:
    return [w for batch in WitnessBatch.objects.filter(trace=trace) for w in batch.witnesses]


def raw_secrets() -> set[str]:
    """Values in the HAR fixture that must never leave the machine: tokens and emails."""
    text = SMALL_HAR.read_text()
    secrets = set(re.findall(r"Bearer ([\w.-]+)", text))
    secrets |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
    assert len(secrets) >= 3  # the fixture has a JWT and emails
    return secrets


def post_entries(daemon: Daemon, body: object) -> dict[str, Any]:
    assert daemon.listen_address is not None
    host, port = daemon.listen_address
    request = urllib.request.Request(
        f"http://{host}:{port}/v1/entries", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 202
        reply: dict[str, Any] = json.loads(response.read())
        return reply


def test_the_daemon_learns_a_trace_uploads_the_har_obfuscated_and_drops_the_trace_when_stopped(
    live_server: Any, alice: User, project: Project, agent_key: str
) -> None:
    client = RecordingClient(live_server.url, agent_key)
    config = AgentConfig(project="shop", daemon_name="web-1", har_file=SMALL_HAR)
    with running(Daemon(config, client)) as daemon:
        eventually(lambda: project.daemons.filter(name="web-1").exists())  # the heartbeat arrived
        time.sleep(0.2)  # let the first poll settle into its hold
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        learned_in = eventually(lambda: [t.trace_id for t in daemon.traces.current()] == [trace.public_id])
        assert learned_in < 2.0  # the long poll replies at once; generous for a loaded machine

        entries = len(json.loads(SMALL_HAR.read_text())["log"]["entries"])
        eventually(lambda: len(stored_witnesses(trace)) == entries)
        assert set(WitnessBatch.objects.filter(trace=trace).values_list("daemon_name", flat=True)) == {"web-1"}
        trace.refresh_from_db()
        assert trace.witness_count == entries
        sent, stored = json.dumps(client.uploaded), json.dumps(stored_witnesses(trace))
        for secret in raw_secrets():
            assert secret not in sent
            assert secret not in stored

        trace_stop(trace=trace)
        eventually(lambda: daemon.traces.current() == [])
    assert daemon.stats.snapshot()["batches_sent"] == 1


def test_entries_posted_to_the_listen_server_arrive_only_while_a_trace_is_active(
    live_server: Any, alice: User, project: Project, agent_key: str, entry: Callable[..., dict]
) -> None:
    config = AgentConfig(project="shop", daemon_name="web-1", listen=("127.0.0.1", 0), batch_max_delay=0.2)
    with running(Daemon(config, ControlPlaneClient(live_server.url, agent_key))) as daemon:
        assert post_entries(daemon, [entry(), entry()]) == {"accepted": 0, "dropped": 2, "invalid": 0}

        trace = trace_start(project=project, user=alice, duration_minutes=15)
        eventually(lambda: daemon.traces.current() != [])
        assert post_entries(daemon, [entry(url="https://api.shop.test/v1/orders/17"), entry()])["accepted"] == 2
        assert post_entries(daemon, entry(method="POST"))["accepted"] == 1  # one entry, not in a list
        host, port = daemon.listen_address or ("", 0)
        with urllib.request.urlopen(f"http://{host}:{port}/v1/status", timeout=10) as response:
            assert [t["trace_id"] for t in json.loads(response.read())["active_traces"]] == [trace.public_id]
        eventually(lambda: len(stored_witnesses(trace)) == 3)
        assert {(w["method"], w["path"]) for w in stored_witnesses(trace)} == {
            ("GET", "/v1/orders/17"),
            ("GET", "/v1/products"),
            ("POST", "/v1/products"),
        }
    assert daemon.stats.snapshot()["dropped_no_active_trace"] == 2


def test_a_batch_for_a_closed_trace_is_dropped_on_410(
    live_server: Any, alice: User, project: Project, agent_key: str, entry: Callable[..., dict], settings: Any
) -> None:
    settings.WITNESS_GRACE = timedelta(0)
    # batches wait for their trace to end, so the upload comes after the stop
    config = AgentConfig(project="shop", daemon_name="web-1", listen=("127.0.0.1", 0), batch_max_delay=60)
    with running(Daemon(config, ControlPlaneClient(live_server.url, agent_key))) as daemon:
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        eventually(lambda: daemon.traces.current() != [])
        assert post_entries(daemon, [entry()])["accepted"] == 1
        trace_stop(trace=trace)
        eventually(lambda: daemon.stats.snapshot()["batches_dropped"] == 1)
        assert daemon.batcher.pending == 0
    assert not WitnessBatch.objects.filter(trace=trace).exists()


def test_the_server_counts_a_retried_batch_once(
    live_server: Any, alice: User, project: Project, agent_key: str, entry: Callable[..., dict]
) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    client = ControlPlaneClient(live_server.url + "/api/v1/", agent_key)
    call = {"project": "shop", "trace_id": trace.public_id, "daemon_name": "web-1", "batch_id": "b-1"}
    assert client.upload(**call, entries=[entry(), entry()]) == UploadReply(accepted=2, duplicate=False)
    assert client.upload(**call, entries=[entry(), entry()]) == UploadReply(accepted=0, duplicate=True)
    trace.refresh_from_db()
    assert trace.witness_count == 2


def test_the_command_line_agent_uploads_a_har_and_stops_cleanly_on_sigterm(
    live_server: Any, alice: User, project: Project, agent_key: str
) -> None:
    command = [sys.executable, "-m", "agent", "--url", live_server.url, "--key", agent_key, "--project", "shop"]
    command += ["--daemon-name", "cli-1", "--har", str(SMALL_HAR)]
    agent = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: project.daemons.filter(name="cli-1").exists(), timeout=20)
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        eventually(lambda: WitnessBatch.objects.filter(trace=trace, daemon_name="cli-1").exists(), timeout=20)
        agent.send_signal(signal.SIGTERM)
        _, log = agent.communicate(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0
    assert "event=trace_activated" in log and "event=batch_uploaded" in log
    assert "event=stopping signal=SIGTERM" in log and "event=agent_stopped" in log
