"""The agent against the real server (pytest-django's threaded live server, same process).

The long poll reaches the agent through the in-process notifier (or Redis); polls are held 1 s instead of 25
so a stopped agent's last poll ends quickly, and heartbeats come every second.
"""

import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.client import ControlPlaneClient, UploadReply
from agent.daemon import AgentConfig, Daemon
from daemons.models import MiddlewareClient
from projects.models import Project, User
from projects.services import api_key_create
from tests.agent.fakes import eventually, free_port, post_events, running
from traces.models import Trace, WitnessBatch
from traces.services import trace_start, trace_stop

ROOT = Path(__file__).resolve().parents[2]
SMALL_HAR = ROOT / "tests" / "fixtures" / "small.har"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_polls(settings: Any) -> None:
    settings.LONG_POLL_SECONDS = 1.0
    settings.HEARTBEAT_INTERVAL_SECONDS = 1


@pytest.fixture
def agent_key(alice: User, project: Project) -> str:
    key, secret = api_key_create(user=alice, name="agent", scope="ingest")
    return f"{key.public_id}:{secret}"


def stored_witnesses(trace: Trace) -> list[dict[str, Any]]:
    return [w for batch in WitnessBatch.objects.filter(trace=trace) for w in batch.witnesses]


def raw_secrets() -> set[str]:
    """Values in the HAR fixture that must never leave the machine: tokens and emails."""
    text = SMALL_HAR.read_text()
    secrets = set(re.findall(r"Bearer ([\w.-]+)", text))
    secrets |= set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text))
    assert len(secrets) >= 3  # the fixture has a JWT and emails
    return secrets


def middleware_call(daemon: Daemon, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    host, port = daemon.listen_address or ("", 0)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("POST", path, json.dumps(body).encode(), {"content-type": "application/json"})
    response = connection.getresponse()
    reply = response.status, json.loads(response.read())
    connection.close()
    return reply


def test_the_agent_learns_a_trace_uploads_the_har_obfuscated_and_drops_the_trace_when_stopped(
    live_server: Any, alice: User, project: Project, agent_key: str, agent_config: Callable[..., AgentConfig]
) -> None:
    config = agent_config(projects=["shop"], har_file=SMALL_HAR, listen=None)
    with running(Daemon(config, ControlPlaneClient(live_server.url, agent_key, timeout=10))) as daemon:
        eventually(lambda: project.daemons.filter(name="web-1").exists())  # the first poll touched it
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        learned_in = eventually(lambda: [t.trace_id for t in daemon.project("shop").active()] == [trace.public_id])
        assert learned_in < 2.0  # the long poll replies at once; generous for a loaded machine

        entries = len(json.loads(SMALL_HAR.read_text())["log"]["entries"])
        eventually(lambda: len(stored_witnesses(trace)) == entries)
        assert set(WitnessBatch.objects.filter(trace=trace).values_list("daemon_name", flat=True)) == {"web-1"}
        stored = json.dumps(stored_witnesses(trace))
        assert not [secret for secret in raw_secrets() if secret in stored]
        trace_stop(trace=trace)
        eventually(lambda: daemon.project("shop").active() == [])
    assert daemon.accounting.project("shop") | {"dropped": {}} == {"received": entries, "uploaded": entries,
                                                                    "pending": 0, "dropped": {}}  # fmt: skip


def test_a_middleware_hears_of_a_start_at_once_and_its_events_become_witnesses(
    live_server: Any, alice: User, project: Project, agent_key: str, agent_config: Callable[..., AgentConfig],
    entry: Callable[..., dict],
) -> None:  # fmt: skip
    with running(Daemon(agent_config(), ControlPlaneClient(live_server.url, agent_key, timeout=10))) as daemon:
        replies: list[tuple[int, dict[str, Any]]] = []
        poll = {"client_name": "web-1.django", "active_trace_ids": []}
        waiting = threading.Thread(target=lambda: replies.append(middleware_call(daemon, "/v1/services/shop/middleware",
                                                                                 poll)))  # fmt: skip
        waiting.start()
        eventually(lambda: daemon.project("shop").state.value == "ok")
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        assert eventually(lambda: replies) < 2.0
        [(status, diff)] = replies
        assert (status, diff["activated_traces"][0]["trace_name"]) == (202, trace.name)

        events = {"client_name": "web-1.django", "trace_events": [entry(url="https://api.shop.test/v1/orders/17"),
                  entry(method="POST")], "no_more_events": False, "dropped": {"queue_full": 1}}  # fmt: skip
        path = f"/v1/services/shop/traces/{trace.name}/events"
        assert middleware_call(daemon, path, events) == (202, {"trace_event_details": {"drops": 0}})
        eventually(lambda: len(stored_witnesses(trace)) == 2)
        assert {(w["method"], w["path"]) for w in stored_witnesses(trace)} == {
            ("GET", "/v1/orders/17"),
            ("POST", "/v1/products"),
        }
        # the heartbeat names the client, so the console's Daemons page shows it
        eventually(lambda: MiddlewareClient.objects.filter(daemon__project=project, client_name="web-1.django"))
        # the middleware's drop rides with the trace's batch, and the heartbeat's traffic says it per daemon
        assert Trace.objects.get(pk=trace.pk).dropped == {"queue_full": 1}
        eventually(lambda: project.daemons.get(name="web-1").traffic.get("dropped") == {"queue_full": 1})
        assert project.daemons.get(name="web-1").traffic["received"] == 2
    assert daemon.accounting.project("shop")["dropped"] == {"queue_full": 1}


def test_a_middleware_of_an_unknown_project_gets_a_404_and_the_other_projects_carry_on(
    live_server: Any, project: Project, agent_key: str, agent_config: Callable[..., AgentConfig]
) -> None:
    with running(Daemon(agent_config(), ControlPlaneClient(live_server.url, agent_key, timeout=10))) as daemon:
        threading.Thread(target=middleware_call, args=(daemon, "/v1/services/shop/middleware",
                         {"client_name": "web-1", "active_trace_ids": []}), daemon=True).start()  # fmt: skip
        assert middleware_call(daemon, "/v1/services/shoq/middleware", {"client_name": "web-2"})[0] == 404
        # the heartbeat that named shoq was refused: the next one, without it, names shop's client
        eventually(lambda: MiddlewareClient.objects.filter(daemon__project=project, client_name="web-1"))
    assert not MiddlewareClient.objects.filter(client_name="web-2").exists()


def test_a_batch_for_a_closed_trace_is_counted_as_trace_closed(
    live_server: Any, alice: User, project: Project, agent_key: str, agent_config: Callable[..., AgentConfig],
    entry: Callable[..., dict], settings: Any,
) -> None:  # fmt: skip
    settings.WITNESS_GRACE = timedelta(0)
    # batches wait for their trace to end, so the upload comes after the stop
    config = agent_config(projects=["shop"], batch_max_delay=60)
    with running(Daemon(config, ControlPlaneClient(live_server.url, agent_key, timeout=10))) as daemon:
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        eventually(lambda: daemon.project("shop").active())
        post_events(daemon, "shop", trace.name, {"client_name": "w", "trace_events": [entry()]})
        trace_stop(trace=trace)
        eventually(lambda: daemon.accounting.project("shop")["dropped"] == {"trace_closed": 1})
        # later events of that trace are counted at once, without a trip to the server
        post_events(daemon, "shop", trace.name, {"client_name": "w", "trace_events": [entry()]})
        assert daemon.accounting.project("shop")["dropped"] == {"trace_closed": 2}
    assert not WitnessBatch.objects.filter(trace=trace).exists()


def test_the_server_counts_a_retried_batch_once_and_takes_the_dropped_field(
    live_server: Any, alice: User, project: Project, agent_key: str, entry: Callable[..., dict]
) -> None:

    trace = trace_start(project=project, user=alice, duration_minutes=15)
    client = ControlPlaneClient(live_server.url + "/api/v1/", agent_key)
    body = {"daemon_name": "web-1", "batch_id": "b-1", "entries": [entry(), entry()], "dropped": {"queue_full": 3}}
    gzipped = gzip.compress(json.dumps(body).encode())
    assert client.upload(project="shop", trace_id=trace.public_id, body=gzipped) == UploadReply(
        accepted=2, duplicate=False
    )
    assert client.upload(project="shop", trace_id=trace.public_id, body=gzipped) == UploadReply(
        accepted=0, duplicate=True
    )
    trace.refresh_from_db()
    assert (trace.witness_count, trace.dropped) == (2, {"queue_full": 3})


def test_a_refused_key_is_said_once_and_the_middleware_is_still_answered(
    live_server: Any, project: Project, agent_config: Callable[..., AgentConfig], caplog: pytest.LogCaptureFixture
) -> None:
    bad_key = "apk_0000000000000000000000:not-the-secret"
    config = agent_config(projects=["shop"], middleware_hold=1.0)
    with running(Daemon(config, ControlPlaneClient(live_server.url, bad_key, timeout=10))) as daemon:
        poll = {"client_name": "web", "active_trace_ids": []}
        assert middleware_call(daemon, "/v1/services/shop/middleware", poll) == (
            202,
            {"activated_traces": [], "deactivated_traces": []},
        )
    assert caplog.text.count("event=api_key_refused status=401") == 1
    assert "PAWPRINT_KEY (or AKITA_API_KEY_ID and AKITA_API_KEY_SECRET)" in caplog.text


def test_the_command_line_agent_takes_akita_s_key_variables_and_flushes_on_sigterm(
    live_server: Any, alice: User, project: Project, agent_key: str, tmp_path: Path, entry: Callable[..., dict]
) -> None:
    key_id, secret = agent_key.split(":")
    env = {k: v for k, v in os.environ.items() if k != "PAWPRINT_KEY"}
    env |= {"AKITA_API_KEY_ID": key_id, "AKITA_API_KEY_SECRET": secret, "PAWPRINT_URL": live_server.url}
    port = free_port()
    command = [sys.executable, "-m", "agent", "--project", "shop", "--daemon-name", "cli-1"]
    command += ["--listen", f"127.0.0.1:{port}", "--spool-dir", str(tmp_path / "spool"), "--batch-delay", "60"]
    agent = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: project.daemons.filter(name="cli-1").exists(), timeout=20)
        trace = trace_start(project=project, user=alice, duration_minutes=15)

        def agent_status() -> dict[str, Any]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/v1/status")
            status: dict[str, Any] = json.loads(connection.getresponse().read())
            return status

        eventually(lambda: agent_status()["projects"][0]["active_traces"], timeout=20)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"client_name": "w", "trace_events": [entry(), entry(method="POST")]})
        connection.request("POST", f"/v1/services/shop/traces/{trace.name}/events", body)
        assert connection.getresponse().status == 202
        agent.send_signal(signal.SIGTERM)  # the batch would wait 60 s: the flush sends it now
        _, log = agent.communicate(timeout=30)
        time.sleep(1.2)  # the server still holds the long poll the agent left (1 s), and needs the test database
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0, log
    assert "event=trace_activated" in log and "event=batch_uploaded" in log
    assert "event=stopping signal=SIGTERM" in log and "event=agent_stopped" in log
    assert len(stored_witnesses(trace)) == 2
    assert not list((tmp_path / "spool").glob("*.batch"))
