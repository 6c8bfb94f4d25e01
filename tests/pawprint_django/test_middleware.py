"""pawprint_django in the test process: requests through the middleware (sync and async views) to a real agent,
and to agents that are down, slow or refusing. The app must never notice, and no entry may vanish uncounted."""

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.test import RequestFactory

from agent.daemon import AgentConfig, Daemon
from pawprint_django import link as links
from pawprint_django.config import Config, config_from_settings
from pawprint_django.middleware import PawprintMiddleware
from tests.agent.fakes import FakeControlPlane, eventually, running
from tests.pawprint_django.fakes import TRACE, MisbehavingAgent

factory = RequestFactory()


def view(request: HttpRequest) -> HttpResponseBase:
    """A small app: JSON items, a form upload, a binary body and a stream."""
    if request.path == "/upload":
        upload = request.FILES["file"]
        assert isinstance(upload, UploadedFile)
        return JsonResponse({"size": upload.size})
    if request.path == "/binary":
        return HttpResponse(bytes(range(256)), content_type="application/octet-stream")
    if request.path == "/stream":
        return StreamingHttpResponse(iter([b"a", b"b"]), content_type="text/plain")
    if request.method == "POST":
        return JsonResponse({"id": 7, **json.loads(request.body)}, status=201)
    return JsonResponse({"items": [{"id": 1, "owner": "ada@example.com"}]})


async def async_view(request: HttpRequest) -> HttpResponseBase:
    return view(request)


@pytest.fixture(autouse=True)
def stop_links() -> Iterator[None]:
    """Each test's middleware gets a link of its own (its own agent address); end their threads afterwards."""
    yield
    for link in links._links.values():
        link.stopped.set()


@pytest.fixture
def configure(settings: Any) -> Callable[..., None]:
    def apply(agent: str, **extra: object) -> None:
        settings.PAWPRINT_PROJECT = "shop"
        settings.PAWPRINT_AGENT = agent
        settings.PAWPRINT_CLIENT_NAME = "test-client"
        for name, value in extra.items():
            setattr(settings, name, value)

    return apply


def respond(middleware: PawprintMiddleware, request: HttpRequest) -> HttpResponseBase:
    """The response, through the sync or the async path, whichever the middleware was built for."""
    response = middleware(request)
    return asyncio.run(response) if asyncio.iscoroutine(response) else response  # type: ignore[return-value]


def capturing(middleware: PawprintMiddleware) -> bool:
    return bool(middleware._link.capturing())


def requests_of_every_kind() -> list[HttpRequest]:
    upload = factory.post("/upload", {"file": factory_file(), "note": "hello"})
    return [
        factory.get("/items?limit=2&tag=tools", HTTP_AUTHORIZATION="Bearer s3cr3t-t0ken-value"),
        factory.post("/items", json.dumps({"name": "rope", "email": "ada@example.com"}), "application/json"),
        upload,
        factory.get("/binary"),
        factory.get("/stream"),
        factory.get("/items", HTTP_HOST="evil.example"),  # a host the app does not serve
    ]


def factory_file() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")


def test_without_a_project_it_steps_aside(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(MiddlewareNotUsed):
        PawprintMiddleware(view)
    assert "set PAWPRINT_PROJECT (or AKITA_SERVICE_NAME)" in caplog.text


def test_akita_s_settings_work_ours_win_and_the_environment_fills_in(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.AKITA_SERVICE_NAME = "akita-shop"
    settings.AKITA_MIDDLEWARE_NAME = "web-1"
    settings.AKITA_MAX_QUEUE_LEN = "lots"
    monkeypatch.setenv("AKITA_DAEMON_HOST", "10.0.0.5:50080")
    assert config_from_settings() == Config(project="akita-shop", client_name="web-1", agent="10.0.0.5:50080")
    assert "ignoring AKITA_MAX_QUEUE_LEN='lots', expected a positive int" in caplog.text
    settings.PAWPRINT_PROJECT = "shop"
    settings.PAWPRINT_MAX_QUEUE = 50
    monkeypatch.setenv("PAWPRINT_AGENT", "127.0.0.1:50081")
    config = config_from_settings()
    assert config is not None and (config.project, config.max_queue, config.agent) == ("shop", 50, "127.0.0.1:50081")


@pytest.mark.parametrize("get_response", [view, async_view], ids=["wsgi", "asgi"])
def test_requests_reach_the_agent_obfuscated_and_the_responses_are_untouched(
    get_response: Callable[..., Any], configure: Callable[..., None], tmp_path: Path
) -> None:
    control_plane = FakeControlPlane()
    config = AgentConfig(daemon_name="web-1", spool_dir=tmp_path / "spool", listen=("127.0.0.1", 0),
                         batch_max_delay=0.2)  # fmt: skip
    with running(Daemon(config, control_plane)) as daemon:
        host, port = daemon.listen_address or ("", 0)
        configure(f"{host}:{port}")
        middleware = PawprintMiddleware(get_response)
        assert respond(middleware, factory.get("/items")).status_code == 200  # no trace yet: not captured
        trace = control_plane.start_trace("go")
        eventually(lambda: capturing(middleware))
        expected = [(r.method, r.path, view(r).status_code) for r in requests_of_every_kind()]
        for request in requests_of_every_kind():
            assert (request.method, request.path, respond(middleware, request).status_code) in expected
        eventually(lambda: len(control_plane.witnesses(trace)) == 6)
    witnesses = control_plane.witnesses(trace)
    text = json.dumps(witnesses)
    for value in ("s3cr3t", "ada@example.com", "rope", "hello"):
        assert not re.search(rf"\b{value}\b", text), value  # whole words: `properties` holds "rope"
    by_path = {f"{w['scheme']}://{w['host']}{w['path']}": w for w in witnesses}
    assert set(by_path) == {f"http://{h}/{p}" for h, p in [("testserver", "items"), ("testserver", "upload"),
                            ("testserver", "binary"), ("testserver", "stream"), ("evil.example", "items")]}  # fmt: skip
    upload = by_path["http://testserver/upload"]["request"]
    assert upload["content_type"] == "multipart/form-data" and set(upload["body"]["properties"]) == {"file", "note"}
    assert by_path["http://testserver/binary"]["response"]["size"] == 256
    assert daemon.accounting.project("shop")["dropped"] == {}


def test_a_request_it_cannot_capture_is_counted_and_the_app_never_knows(
    configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    agent = MisbehavingAgent()
    configure(agent.address)

    class Odd(HttpResponse):
        def items(self) -> Any:
            raise RuntimeError("headers that cannot be read twice")

    middleware = PawprintMiddleware(lambda request: Odd(status=204))
    eventually(lambda: capturing(middleware))
    assert respond(middleware, factory.get("/odd")).status_code == 204
    eventually(lambda: agent.received() == (0, {"capture_failed": 1}))
    assert "cannot capture GET /odd" in caplog.text
    agent.stop()


def test_a_slow_agent_costs_the_app_nothing_and_every_entry_is_delivered_or_counted(
    configure: Callable[..., None],
) -> None:
    agent = MisbehavingAgent(delay=1.0)
    configure(agent.address, PAWPRINT_MAX_QUEUE=20)
    middleware = PawprintMiddleware(view)
    eventually(lambda: capturing(middleware))
    statuses = [respond(middleware, factory.get(f"/items?page={n}")).status_code for n in range(100)]
    assert statuses == [200] * 100
    eventually(lambda: sum(agent.received()[1].values()) + agent.received()[0] == 100, timeout=20)
    delivered, dropped = agent.received()
    assert set(dropped) == {"queue_full"} and delivered >= 20
    agent.stop()


def test_an_agent_that_refuses_then_recovers_hears_of_every_loss(configure: Callable[..., None]) -> None:
    agent = MisbehavingAgent(status=500)
    configure(agent.address, PAWPRINT_RETRY_SECONDS=0.3)
    middleware = PawprintMiddleware(view)
    eventually(lambda: capturing(middleware))
    assert [respond(middleware, factory.get("/items")).status_code for _ in range(10)] == [200] * 10
    eventually(lambda: agent.refused >= 2)  # asked at once and 0.2 s later; then the 0.3 s of retries are over
    agent.status = 202
    assert [respond(middleware, factory.get("/items")).status_code for _ in range(5)] == [200] * 5
    eventually(lambda: agent.received()[0] + sum(agent.received()[1].values()) == 15, timeout=10)
    assert set(agent.received()[1]) == {"agent_unreachable"}
    agent.stop()


def test_an_agent_that_goes_away_mid_trace_costs_the_app_nothing(configure: Callable[..., None]) -> None:
    agent = MisbehavingAgent()
    configure(agent.address, PAWPRINT_RETRY_SECONDS=0.3)
    middleware = PawprintMiddleware(view)
    eventually(lambda: capturing(middleware))
    agent.stop()
    assert [respond(middleware, factory.get("/items")).status_code for _ in range(10)] == [200] * 10
    back = MisbehavingAgent(int(agent.address.rsplit(":", 1)[1]))
    eventually(lambda: back.received()[0] + sum(back.received()[1].values()) == 10, timeout=15)
    back.stop()


def test_a_forked_worker_gets_its_own_link_and_captures(configure: Callable[..., None]) -> None:
    agent = MisbehavingAgent()
    configure(agent.address)
    middleware = PawprintMiddleware(view)  # built before the fork, as gunicorn --preload does
    parent_link = middleware._link
    child = os.fork()
    if child == 0:  # the child's first request finds the parent's link dead and starts its own
        try:
            middleware(factory.get("/before"))
            assert middleware._link is not parent_link
            eventually(lambda: capturing(middleware))
            middleware(factory.get("/from-the-child"))
            time.sleep(1.0)  # the sender posts at once; the parent reads what the agent got
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    urls = [e["request"]["url"] for body in agent.bodies for e in body["trace_events"]]
    # the first request may or may not be captured: it races the new link's first poll (as with akita-django)
    assert [url for url in urls if not url.endswith("/before")] == ["http://testserver/from-the-child"]
    agent.stop()


def test_the_link_logs_the_agent_s_news(configure: Callable[..., None], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pawprint_django")
    agent = MisbehavingAgent()
    configure(agent.address)
    middleware = PawprintMiddleware(view)
    eventually(lambda: capturing(middleware))
    assert f"capturing for trace {TRACE['trace_name']}" in caplog.text
    agent.stop()
