"""The long poll replies within a second of a change, on the embedded notifier and on Redis."""

import asyncio
import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

import daemons.api
from controlplane.batches import FLUSH_SECONDS
from controlplane.handlers import AsgiHandler
from controlplane.notify import CHANNEL_PREFIX, _changes, listener_name, project_changed
from daemons.models import Daemon, TraceReach
from projects.auth import authenticate_api_key
from projects.models import ApiKey, Project, User
from projects.selectors import project_for_user
from projects.services import api_key_create, api_key_revoke, membership_remove
from traces.services import trace_start, trace_stop

POLL = "/api/v1/projects/shop/daemon"


@pytest.fixture(autouse=True)
def close_executor_connections() -> Iterator[None]:
    """sync_to_async runs ORM calls in a shared thread; close its connection so the test database can be dropped."""
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(params=["embedded", "redis"])
def notifier(request: pytest.FixtureRequest, settings) -> str:
    settings.REDIS_URL = "" if request.param == "embedded" else os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return request.param


@dataclass
class AsgiResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, header: str) -> str:
        return self.headers[header.lower()]

    def json(self) -> Any:
        return json.loads(self.content)


async def asgi_post(
    path: str, body: object, headers: dict[str, str] | None = None, leave_after: float | None = None
) -> AsgiResponse | None:
    """POST through the ASGI application as the web workers serve it (a test client would take other paths); with
    `leave_after`, the client disconnects after that many seconds (None: no reply was sent)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": data, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        if leave_after is None:
            await asyncio.Event().wait()  # the client stays until the reply
        await asyncio.sleep(leave_after or 0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    if not sent:
        return None
    start, *bodies = sent
    reply_headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return AsgiResponse(start["status"], reply_headers, b"".join(message.get("body", b"") for message in bodies))


application = AsgiHandler()


class PollClient:
    """A daemon with an ingest key, polling through the ASGI application."""

    def __init__(self, user: User) -> None:
        key, secret = api_key_create(user=user, scope="ingest")
        token = base64.b64encode(f"{key.public_id}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    async def post(self, body: object) -> AsgiResponse:
        response = await asgi_post(POLL, body, self.headers)
        assert response is not None
        return response


def poll_client(user: User) -> PollClient:
    return PollClient(user)


async def poll(client: PollClient, active: list[str]) -> tuple[dict, float]:
    started = time.monotonic()
    response = await client.post({"daemon_name": "web-1", "active_trace_ids": active})
    assert response.status_code == 200, response.content
    return response.json(), time.monotonic() - started


def run_poll_with_change(
    client: PollClient, active: list[str], change, delay: float = 0.5
) -> tuple[dict, float, float]:
    """Poll, make the change `delay` seconds later from another task; (reply, poll duration, reply lag after the
    change was made: committed and published, after what else it does on commit, such as a build run eagerly)."""

    async def scenario() -> tuple[dict, float, float]:
        pending = asyncio.create_task(poll(client, active))
        await asyncio.sleep(delay)
        await sync_to_async(change)()
        changed_at = time.monotonic()
        reply, duration = await pending
        return reply, duration, time.monotonic() - changed_at

    return asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_pending_poll_learns_a_start_within_a_second(notifier: str, alice: User, project: Project) -> None:
    client = poll_client(alice)
    reply, duration, lag = run_poll_with_change(
        client, [], lambda: trace_start(project=project, user=alice, duration_minutes=15, name="go")
    )
    assert duration >= 0.5  # it was holding when the trace started
    assert lag < 1.0
    [activated] = reply["activated_traces"]
    assert activated["trace_name"] == "go"
    assert activated["trace_id"].startswith("trc_")
    assert activated["sampling_rate"] == 1.0
    assert reply["deactivated_traces"] == []


@pytest.mark.django_db(transaction=True)
def test_held_polls_take_no_thread_of_their_own(alice: User, project: Project) -> None:
    client = poll_client(alice)

    async def scenario() -> tuple[int, int, list[dict]]:
        await client.post({"daemon_name": "first", "active_trace_ids": ["trc_gone"]})  # replies at once
        before = threading.active_count()
        polls = [asyncio.create_task(client.post({"daemon_name": f"d{n}", "active_trace_ids": []})) for n in range(50)]
        await asyncio.sleep(1.5)
        assert not any(poll.done() for poll in polls)
        held = threading.active_count()
        await sync_to_async(trace_start)(project=project, user=alice, duration_minutes=15, name="go")
        return before, held, [reply.json() for reply in await asyncio.gather(*polls)]

    before, held, replies = asyncio.run(scenario())
    # At most the threads of the loop's default executor, shared by all polls; Django's handler starts one per poll.
    assert held - before <= min(32, (os.cpu_count() or 1) + 4) < 50
    assert all([item["trace_name"] for item in reply["activated_traces"]] == ["go"] for reply in replies)


@pytest.mark.django_db(transaction=True)
def test_a_held_poll_whose_daemon_leaves_ends_without_a_reply(alice: User, project: Project) -> None:
    client = poll_client(alice)

    async def scenario() -> tuple[AsgiResponse | None, float, int]:
        started = time.monotonic()
        body = {"daemon_name": "leaving", "active_trace_ids": []}
        reply = await asgi_post(POLL, body, client.headers, leave_after=0.5)
        return reply, time.monotonic() - started, _changes().projects[project.pk].watchers

    reply, duration, watchers = asyncio.run(scenario())
    assert reply is None
    assert duration < 5  # not the whole hold
    assert watchers == 0  # it stopped watching the project


@pytest.mark.django_db(transaction=True)
def test_a_pending_poll_learns_a_stop_within_a_second(notifier: str, alice: User, project: Project) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    reply, duration, lag = run_poll_with_change(poll_client(alice), [trace.public_id], lambda: trace_stop(trace=trace))
    assert duration >= 0.5 and lag < 1.0
    assert reply == {"activated_traces": [], "deactivated_traces": [trace.public_id]}


@pytest.mark.django_db(transaction=True)
def test_a_poll_learns_the_end_of_a_trace_on_time_without_a_writer(alice: User, project: Project) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    ends_in = 0.8
    type(trace).objects.filter(pk=trace.pk).update(ends_at=timezone.now() + timedelta(seconds=ends_in))
    reply, duration = asyncio.run(poll(poll_client(alice), [trace.public_id]))
    assert reply["deactivated_traces"] == [trace.public_id]
    assert ends_in - 0.05 <= duration < ends_in + 1.0


@pytest.mark.django_db(transaction=True)
def test_a_poll_with_a_stale_set_replies_at_once(alice: User, project: Project) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    reply, duration = asyncio.run(poll(poll_client(alice), ["trc_gone"]))
    assert [item["trace_id"] for item in reply["activated_traces"]] == [trace.public_id]
    assert reply["deactivated_traces"] == ["trc_gone"]
    assert duration < 1.0


@pytest.mark.django_db(transaction=True)
def test_a_quiet_poll_times_out_with_empty_arrays(alice: User, project: Project, settings) -> None:
    settings.LONG_POLL_SECONDS = 0.3
    reply, duration = asyncio.run(poll(poll_client(alice), []))
    assert reply == {"activated_traces": [], "deactivated_traces": []}
    assert duration >= 0.3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", None),
        (b"[]", None),
        (b"{}", "daemon_name"),
        (b'{"daemon_name": "d\\u0000"}', "daemon_name"),
        (b'{"daemon_name": "d", "active_trace_ids": "x"}', "active_trace_ids"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_bad_poll_body_is_400_naming_the_field(alice: User, project: Project, body: bytes, field) -> None:
    client = poll_client(alice)

    async def send() -> dict:
        response = await client.post(body)
        assert response.status_code == 400
        return response.json()

    assert asyncio.run(send())["error"].get("field") == field


@pytest.mark.django_db(transaction=True)
def test_a_poll_without_a_key_is_401(project: Project) -> None:
    response = asyncio.run(asgi_post(POLL, {"daemon_name": "d"}))
    assert response is not None
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.django_db(transaction=True)
def test_too_many_polls_get_429_with_retry_after(alice: User, project: Project, settings, monkeypatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"poll": "2/min"})
    settings.LONG_POLL_SECONDS = 0
    cache.clear()
    client = poll_client(alice)

    async def send() -> list:
        return [await client.post({"daemon_name": "d", "active_trace_ids": []}) for _ in range(3)]

    responses = asyncio.run(send())
    assert [response.status_code for response in responses] == [200, 200, 429]
    assert int(responses[2]["Retry-After"]) > 0
    assert responses[2].json()["error"]["code"] == "throttled"


@pytest.mark.django_db(transaction=True)
def test_a_daemon_polling_in_a_loop_gets_429_and_writes_nothing(alice: User, project: Project, settings) -> None:
    settings.DAEMON_POLLS_PER_MINUTE = 2
    settings.LONG_POLL_SECONDS = 0
    cache.clear()
    client = poll_client(alice)

    async def send(name: str) -> list:
        return [await client.post({"daemon_name": name, "active_trace_ids": []}) for _ in range(3)]

    [first, second, third] = asyncio.run(send("looping"))
    touched = Daemon.objects.get(name="looping").last_heartbeat_at
    [fourth] = asyncio.run(send("looping"))[2:]
    assert [r.status_code for r in (first, second, third, fourth)] == [200, 200, 429, 429]
    assert 0 < int(third["Retry-After"]) <= 60
    assert third.json()["error"]["code"] == "throttled"
    assert Daemon.objects.get(name="looping").last_heartbeat_at == touched
    assert [r.status_code for r in asyncio.run(send("another"))] == [200, 200, 429]  # counted per daemon


@pytest.mark.django_db(transaction=True)
def test_a_change_wakes_every_held_poll_of_the_process_with_one_read(
    notifier: str, alice: User, project: Project, monkeypatch
) -> None:
    reads = []

    def counted(project_id: int) -> list:
        reads.append(project_id)
        return active_now(project_id)

    active_now = daemons.api._active_now
    monkeypatch.setattr(daemons.api, "_active_now", counted)
    client = poll_client(alice)

    async def scenario() -> tuple[list, int, int]:
        polls = [asyncio.create_task(client.post({"daemon_name": f"d{n}", "active_trace_ids": []})) for n in range(30)]
        await asyncio.sleep(1.5)
        held_reads = len(reads)
        subscriptions = await listener_subscriptions()
        await sync_to_async(trace_start)(project=project, user=alice, duration_minutes=15, name="go")
        replies = await asyncio.gather(*polls)
        return [reply.json() for reply in replies], len(reads) - held_reads, subscriptions

    replies, reads_to_wake, subscriptions = asyncio.run(scenario())
    assert all([item["trace_name"] for item in reply["activated_traces"]] == ["go"] for reply in replies)
    assert reads_to_wake == 1
    assert subscriptions == (1 if notifier == "redis" else 0)


async def listener_subscriptions() -> int:
    """This process's pattern subscriptions on Redis, by client name (none in the embedded mode)."""
    if not django_settings.REDIS_URL:
        return 0
    client = redis.asyncio.Redis.from_url(django_settings.REDIS_URL)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    return sum(1 for item in clients if item.get("name") == listener_name() and int(item.get("psub", 0)) > 0)


@pytest.mark.django_db(transaction=True)
def test_the_trace_api_says_how_many_daemons_a_start_reached(alice: User, project: Project, key_client) -> None:
    client = poll_client(alice)

    async def scenario() -> None:
        polls = [asyncio.create_task(client.post({"daemon_name": f"d{n}", "active_trace_ids": []})) for n in range(3)]
        await asyncio.sleep(0.5)
        await sync_to_async(trace_start)(project=project, user=alice, duration_minutes=15, name="go")
        await asyncio.gather(*polls)
        await asyncio.sleep(FLUSH_SECONDS + 0.5)  # the event loop writes the acknowledgements

    asyncio.run(scenario())
    Daemon.objects.create(
        project=project, name="silent", first_seen_at=timezone.now(), last_heartbeat_at=timezone.now()
    )
    trace = key_client(alice).get("/api/v1/projects/shop/traces/go").json()
    assert trace["reach"] == {"change": "start", "reached": 3, "daemons": 4}
    assert set(TraceReach.objects.values_list("daemon_name", flat=True)) == {"d0", "d1", "d2"}


def test_a_change_made_while_serving_a_request_is_told_once_its_response_is_sent(settings) -> None:
    """A Start wakes every poll of the project at once: its own reply must leave before they answer and re-poll."""
    settings.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(f"{CHANNEL_PREFIX}4242")
    try:
        request_started.send(sender=None)
        project_changed(4242)
        assert subscriber.get_message(timeout=0.3) is None  # held while the request is served
        request_finished.send(sender=None)
        told = subscriber.get_message(timeout=2)
        assert told is not None and told["channel"] == f"{CHANNEL_PREFIX}4242".encode()
        project_changed(4242)  # outside a request (a Celery task, beat): told at once
        assert subscriber.get_message(timeout=2) is not None
    finally:
        subscriber.close()


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_an_inactive_user_and_a_removed_member_are_refused_on_the_next_poll(
    alice: User, bob: User, project: Project, settings
) -> None:
    settings.LONG_POLL_SECONDS = 0
    owner, member = poll_client(alice), poll_client(bob)
    body = {"daemon_name": "d", "active_trace_ids": []}

    async def statuses() -> list[int]:
        return [(await client.post(body)).status_code for client in (owner, member)]

    assert asyncio.run(statuses()) == [200, 200]
    membership_remove(project=project, username=bob.username)
    assert asyncio.run(statuses()) == [200, 404]  # not a member: no such project
    api_key_revoke(user=alice, key_id=ApiKey.objects.get(user=alice).public_id)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert asyncio.run(statuses()) == [401, 401]


@pytest.mark.django_db
def test_the_gate_reads_a_key_and_a_project_in_one_query_each(alice: User, project: Project) -> None:
    key, secret = api_key_create(user=alice, scope="ingest")
    header = "Basic " + base64.b64encode(f"{key.public_id}:{secret}".encode()).decode()
    authenticate_api_key(header)  # its first use is written (then at most once a minute)
    with CaptureQueriesContext(connection) as queries:
        found = authenticate_api_key(header)
        assert found is not None
        assert found.user == alice
        by_name = project_for_user(user=found.user, project_ref="shop")
        assert by_name.owner == alice  # loaded with it
    assert len(queries) == 2
    assert project_for_user(user=alice, project_ref=project.public_id) == by_name == project
