"""The agent speaks the akita-django middleware protocol (PROTOCOL.md A.9), over real HTTP on loopback.

The control plane is faked; `test_live.py` and `test_end_to_end.py` use the real one.
"""

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent.client import MiddlewareClient
from agent.daemon import AgentConfig, Daemon
from tests.agent.fakes import FakeControlPlane, eventually, running

IDLE_POLL = {"client_name": "w", "active_trace_ids": []}


def call(daemon: Daemon, method: str, path: str, body: object = None, **headers: str) -> tuple[int, Any]:
    """One request on a new connection, like akita-django (which has no session)."""
    host, port = daemon.listen_address or ("", 0)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    connection.request(method, path, data, {"Content-Type": "application/json", **headers})
    response = connection.getresponse()
    reply = json.loads(response.read())
    connection.close()
    return response.status, reply


def replay(daemon: Daemon, captured: dict[str, Any]) -> tuple[int, Any]:
    """Send a captured akita-django request with its exact headers and bytes."""
    host, port = daemon.listen_address or ("", 0)
    head = f"{captured['method']} {captured['path']} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in captured["headers"]) + "\r\n"
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.encode() + captured["body_text"].encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def poll_in_background(daemon: Daemon, service: str, known: list[str], client: str = "demo-django") -> list:
    replies: list[tuple[int, Any, float]] = []

    def poll() -> None:
        status, reply = call(daemon, "POST", f"/v1/services/{service}/middleware",
                             {"client_name": client, "active_trace_ids": known})  # fmt: skip
        replies.append((status, reply, time.monotonic()))

    threading.Thread(target=poll, daemon=True).start()
    return replies


def test_a_captured_akita_django_session_works_as_it_did_with_akita_s_daemon(
    agent_config: Callable[..., AgentConfig], akita_capture: list[dict[str, Any]]
) -> None:
    control_plane = FakeControlPlane(projects=("demo-service",))
    first_poll, *events, stale_poll, _ = akita_capture
    assert [r["file"] for r in events] == [f"000{n}-post-events.json" for n in range(2, 9)]
    with running(Daemon(agent_config(), control_plane)) as daemon:
        replies: list[tuple[int, Any, float]] = []
        threading.Thread(target=lambda: replies.append((*replay(daemon, first_poll), time.monotonic()))).start()
        eventually(lambda: daemon.project("demo-service").clients.get("demo-django"))
        time.sleep(0.3)
        assert replies == []  # held: nothing changed yet, and an empty diff at once would make it spin
        started = time.monotonic()
        trace = control_plane.start_trace("demo-trace")
        eventually(lambda: replies)
        [(status, diff, answered)] = replies
        assert answered - started < 0.5  # the agent's own long poll learns it at once, and so does the middleware
        assert status == 202
        assert diff == {
            "activated_traces": [
                {
                    "trace_name": "demo-trace",
                    "trace_id": trace.trace_id,
                    "service_id": "demo-service",
                    "sample_rate": 1.0,
                    "sampling_rate": 1.0,
                    "filter_third_party_trackers": False,
                    "ends_at": trace.ends_at.isoformat().replace("+00:00", "Z"),
                }
            ],
            "deactivated_traces": [],
        }
        for captured in events:
            assert replay(daemon, captured) == (202, {"trace_event_details": {"drops": 0}})
        # a middleware that polls with ids this agent never gave out (Akita's, or from before a restart) is healed
        status, diff = replay(daemon, stale_poll)
        assert status == 202
        assert diff["deactivated_traces"] == ["lrn_6ys7tehG07j9wnxwZp9oDf"]
        assert [t["trace_id"] for t in diff["activated_traces"]] == [trace.trace_id]

        eventually(lambda: len(control_plane.witnesses(trace)) == 7)
        uploaded = json.dumps(control_plane.witnesses(trace))
        assert "demo-token" not in uploaded and "abc123" not in uploaded  # Authorization and Cookie values
        paths = sorted(w["path"] for w in control_plane.witnesses(trace))
        assert paths[:3] == ["/api/items", "/api/items", "/api/items/42"]

        stopping = poll_in_background(daemon, "demo-service", [trace.trace_id])
        time.sleep(0.2)
        control_plane.stop_trace(trace)
        eventually(lambda: stopping)
        assert stopping[0][:2] == (202, {"activated_traces": [], "deactivated_traces": [trace.trace_id]})


def test_an_idle_poll_is_answered_with_an_empty_diff_after_the_hold_time(
    agent_config: Callable[..., AgentConfig],
) -> None:
    with running(Daemon(agent_config(middleware_hold=0.5), FakeControlPlane())) as daemon:
        started = time.monotonic()
        status, diff = call(daemon, "POST", "/v1/services/shop/middleware", IDLE_POLL)
        assert (status, diff) == (202, {"activated_traces": [], "deactivated_traces": []})
        assert time.monotonic() - started >= 0.45


def test_every_process_s_poll_is_answered_though_they_share_a_client_name(
    agent_config: Callable[..., AgentConfig],
) -> None:
    control_plane = FakeControlPlane()
    with running(Daemon(agent_config(), control_plane)) as daemon:
        polls = [poll_in_background(daemon, "shop", []) for _ in range(3)]
        eventually(lambda: daemon.project("shop").clients.get("demo-django", None) and
                   daemon.project("shop").clients["demo-django"].polls_held == 3)  # fmt: skip
        control_plane.start_trace("go")
        eventually(lambda: all(polls))
        assert all(p[0][1]["activated_traces"][0]["trace_name"] == "go" for p in polls)


def test_events_on_one_keep_alive_connection_are_each_answered(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane()
    with running(Daemon(agent_config(), control_plane)) as daemon:
        trace = control_plane.start_trace("keep-alive")
        eventually(lambda: daemon.project("shop").active())
        host, port = daemon.listen_address or ("", 0)
        connection = http.client.HTTPConnection(host, port, timeout=10)
        body = json.dumps({"client_name": "w", "trace_events": [entry()], "no_more_events": False}).encode()
        for _ in range(50):
            connection.request("POST", "/v1/services/shop/traces/keep%2Dalive/events", body)  # percent-decoded
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (202, {"trace_event_details": {"drops": 0}})
        connection.close()
        eventually(lambda: len(control_plane.witnesses(trace)) == 50)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/services/shop/middleware", b"not json", 400, "Bad request body"),
        ("/v1/services/shop/middleware", {"client_name": 3}, 400, "Invalid request body"),
        ("/v1/services/shop/middleware", {"client_name": "w", "active_trace_ids": [1]}, 400, "Invalid request body"),
        ("/v1/services/shop/traces/t/events", {"client_name": "w"}, 400, "Bad request body"),
        ("/v1/services/shop/traces/t/events", {"client_name": "w", "trace_events": []}, 404, "Trace not found"),
        ("/v1/entries", [], 404, "Not found: POST /v1/services/{service}/middleware or .../events."),
    ],
)
def test_bad_requests_get_a_clear_error(
    agent_config: Callable[..., AgentConfig], path: str, body: object, status: int, message: str
) -> None:
    with running(Daemon(agent_config(), FakeControlPlane())) as daemon:
        got_status, reply = call(daemon, "POST", path, body)
        assert (got_status, reply["message"]) == (status, message)


def test_a_project_the_control_plane_does_not_know_is_refused_like_akita_s_unknown_service(
    agent_config: Callable[..., AgentConfig], caplog: pytest.LogCaptureFixture
) -> None:
    with running(Daemon(agent_config(), FakeControlPlane(projects=("shop",)))) as daemon:
        status, reply = call(daemon, "POST", "/v1/services/shoq/middleware", IDLE_POLL)
        assert (status, reply["message"]) == (404, "Service not found")
        assert "shoq" in reply["detail"]
    assert caplog.text.count("event=project_unknown project=shoq") == 1
    assert "PAWPRINT_PROJECT (AKITA_SERVICE_NAME)" in caplog.text


def test_the_heartbeat_reports_the_projects_their_middleware_clients_and_traffic(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane(projects=("shop", "blog"))
    control_plane.heartbeat_interval = 1
    config = agent_config(projects=["blog"])
    with running(Daemon(config, control_plane)) as daemon:
        trace = control_plane.start_trace("hb")
        poll_in_background(daemon, "shop", [], client="web-1.shop")
        eventually(lambda: daemon.project("shop").active() and daemon.project("blog").state.value == "ok")
        call(daemon, "POST", "/v1/services/shop/traces/hb/events", {"client_name": "web-1.shop",
             "trace_events": [entry()], "dropped": {"queue_full": 2}})  # fmt: skip
        eventually(lambda: control_plane.witnesses(trace))
        eventually(lambda: control_plane.heartbeats[-1]["traffic"] and control_plane.heartbeats[-1]["traffic"][-1]
                   ["uploaded"] == 1, timeout=5)  # fmt: skip
        status, report = call(daemon, "GET", "/v1/status")
    last = control_plane.heartbeats[-1]
    assert sorted(last["projects"]) == ["blog", "shop"]
    assert last["middleware"] == [MiddlewareClient("shop", "web-1.shop")]
    [blog, shop] = last["traffic"]
    assert blog == {"project": "blog", "since": blog["since"], "received": 0, "uploaded": 0, "pending": 0,
                    "dropped": {}}  # fmt: skip
    assert shop | {"since": ""} == {"project": "shop", "since": "", "received": 1, "uploaded": 1, "pending": 0,
                                    "dropped": {"queue_full": 2}}  # fmt: skip
    assert status == 200
    [status_shop] = [p for p in report["projects"] if p["name"] == "shop"]
    assert [c["client_name"] for c in status_shop["middleware_clients"]] == ["web-1.shop"]
    assert status_shop["uploaded"] == 1 and status_shop["active_traces"][0]["trace_name"] == "hb"


def raw_exchange(daemon: Daemon, *chunks: bytes) -> list[tuple[int, dict[str, str], Any]]:
    """Send bytes as they are, in these pieces, and read every reply until the agent closes the connection."""
    host, port = daemon.listen_address or ("", 0)
    with socket.create_connection((host, port), timeout=30) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.05)
        received = b""
        while data := sock.recv(65536):
            received += data
    replies = []
    while received:
        head, received = received.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode().split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers["content-length"])
        replies.append((int(status_line.split()[1]), headers, json.loads(received[:length])))
        received = received[length:]
    return replies


def request(path: str, body: bytes, *headers: str, method: str = "POST") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: agent", *headers, f"Content-Length: {len(body)}"]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


def test_the_http_the_middleware_may_send_is_read_as_it_comes_and_what_it_may_not_is_refused(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane()
    with running(Daemon(agent_config(), control_plane)) as daemon:
        trace = control_plane.start_trace("raw")
        eventually(lambda: daemon.project("shop").active())
        path = "/v1/services/shop/traces/raw/events"
        body = json.dumps({"client_name": "w", "trace_events": [entry()]}).encode()
        accepted = {"trace_event_details": {"drops": 0}}
        # pawprint_django keeps its connection: two calls in one send, then one whose body comes in three pieces
        pawprint = "User-Agent: pawprint-django/0.2.0"
        last = request(path, body, pawprint, "Connection: close")
        replies = raw_exchange(daemon, request(path, body, pawprint) * 2, last[:30], last[30:-20], last[-20:])
        assert [(status, reply) for status, _, reply in replies] == [(202, accepted)] * 3
        assert [headers.get("connection") for _, headers, _ in replies] == [None, None, "close"]
        assert replies[0][1]["content-type"] == "application/json; charset=utf-8"
        # akita-django asks for keep-alive but never reuses a connection: the agent closes it after the reply
        [(status, headers, reply)] = raw_exchange(
            daemon, request(path, body, "User-Agent: python-requests/2.34.2", "Connection: keep-alive")
        )
        assert (status, reply, headers["connection"]) == (202, accepted, "close")
        eventually(lambda: len(control_plane.witnesses(trace)) == 4)

        refused = [
            (b"NONSENSE\r\n\r\n", 400, "Malformed HTTP request."),
            (b"POST / HTTP/1.1\r\nHost: agent\r\na line with no colon\r\n\r\n", 400, "Malformed HTTP request."),
            (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: agent\r\n\r\n", 411, "Send a Content-Length."),
            (request(path, b"", "Transfer-Encoding: chunked"), 411, "Send a Content-Length."),
            (request(path, b"").replace(b": 0", b": 99999999"), 413, "Bodies are limited to 16777216 bytes."),
            (b"X" * 70_000, 431, "The request head is too large."),
        ]  # fmt: skip
        for data, status, message in refused:
            [(got_status, headers, reply)] = raw_exchange(daemon, data)  # answered, then closed
            assert (got_status, reply["message"], headers["connection"]) == (status, message, "close")
        [(status, _, reply)] = raw_exchange(daemon, request("/v1/status", b"", "Connection: close", method="PUT"))
        assert status == 404 and "GET /v1/status" in reply["message"]
        assert daemon.accounting.project("shop")["received"] == 4


def test_bodies_over_the_memory_cap_are_read_and_counted_or_refused_for_a_retry(
    agent_config: Callable[..., AgentConfig], entry: Callable[..., dict]
) -> None:
    control_plane = FakeControlPlane()
    with running(Daemon(agent_config(max_memory_bytes=500), control_plane)) as daemon:
        control_plane.start_trace("capped")
        eventually(lambda: daemon.project("shop").active())
        path = "/v1/services/shop/traces/capped/events"
        body = json.dumps({"client_name": "w", "trace_events": [entry()]}).encode()
        assert len(body) > 500
        [(status, _, reply)] = raw_exchange(daemon, request(path, body, "User-Agent: python-requests/2.34.2"))
        pawprint = request(path, body, "User-Agent: pawprint-django/0.2.0", "Connection: close")
        [(retry_status, headers, retry)] = raw_exchange(daemon, pawprint)
        assert (status, reply) == (202, {"trace_event_details": {"drops": 1}})  # akita-django would not retry
        assert (retry_status, headers["retry-after"]) == (503, "1")
        assert retry["message"] == "The agent is at its memory cap; retry."
        assert daemon.accounting.project("shop") | {"uploaded": 0} == {
            "received": 1, "uploaded": 0, "pending": 0, "dropped": {"buffer_full": 1}
        }  # fmt: skip
        assert daemon.budget.used == 0


def test_every_event_answered_202_is_uploaded_or_spooled_though_the_agent_stops_at_once(
    agent_config: Callable[..., AgentConfig], akita_capture: list[dict[str, Any]]
) -> None:
    control_plane = FakeControlPlane(projects=("demo-service",))
    events = [captured for captured in akita_capture if captured["path"].endswith("/events")]
    answered: list[int] = []

    def middleware_process() -> None:  # akita-django's upload thread: one call after the other
        answered.extend(replay(daemon, events[n % len(events)])[0] for n in range(40))

    with running(Daemon(agent_config(projects=["demo-service"]), control_plane)) as daemon:
        control_plane.start_trace("demo-trace")
        eventually(lambda: daemon.project("demo-service").active())
        processes = [threading.Thread(target=middleware_process) for _ in range(8)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    assert answered == [202] * 320
    counts = daemon.accounting.project("demo-service")
    assert counts == {"received": 320, "uploaded": counts["uploaded"], "pending": 320 - counts["uploaded"],
                      "dropped": {}}  # fmt: skip
    assert len([w for call in control_plane.uploads for w in call["witnesses"]]) == counts["uploaded"]
