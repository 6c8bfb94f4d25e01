"""Listed and polled pages cost the same number of queries with 2 rows as with 20: no query per row."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import AlertChannel
from alerts.services import channel_create, channel_test, monitor_create
from daemons.services import daemon_heartbeat
from projects.models import Project, User
from projects.services import api_key_create, membership_add, project_create
from traces.models import Trace
from traces.services import trace_start

from .conftest import basic_auth, har_upload, make_user

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@dataclass
class World:
    """A project whose traces, endpoints, daemons, members and keys can be grown."""

    project: Project
    alice: User
    capture: Any
    entry: Callable[..., dict[str, Any]]
    size: int = 0
    wide: Trace | None = None  # the newest uploaded trace: its model has `size` endpoints
    channel: AlertChannel | None = None  # the first alert channel: it has `size` deliveries
    console: Client = field(default_factory=Client)
    api: APIClient = field(default_factory=APIClient)

    def grow_to(self, size: int) -> None:
        project, alice = self.project, self.alice
        entries = [self.entry(url=f"https://h{index}.shop.test/v1/items") for index in range(size)]
        content = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
        with self.capture(execute=True):
            for _ in range(size - self.size):
                self.wide = har_upload(project=project, user=alice, content=content)
        for index in range(self.size, size):
            trace_start(project=project, user=alice, duration_minutes=15)
            middleware = [{"project": project.name, "client_name": f"client-{index}"}]
            daemon_heartbeat(
                user=alice,
                daemon_name=f"d{index}",
                now=timezone.now(),
                project_refs=[project.name],
                middleware=middleware,
            )
            membership_add(project=project, username=make_user(f"member{index}").username)
            api_key_create(user=alice, name=f"key{index}")
            project_create(owner=alice, name=f"other-{index}")
            channel, _ = channel_create(project=project, kind="email", email=f"ops{index}@example.com")
            self.channel = self.channel or channel
            monitor_create(project=project, kind="errors", threshold=5)
            with self.capture(execute=True):  # alerts, each delivered (to a mail outbox) in one attempt
                channel_test(channel=self.channel)
                channel_test(channel=channel)
        self.size = size


@pytest.fixture
def world(
    project: Project, alice: User, entry: Callable[..., dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> World:
    world = World(project=project, alice=alice, capture=django_capture_on_commit_callbacks, entry=entry)
    world.console.force_login(alice)
    key, secret = api_key_create(user=alice, scope="full")
    world.api.credentials(HTTP_AUTHORIZATION=basic_auth(key, secret))
    return world


def page(
    name: str,
    *,
    api: bool = False,
    trace: bool = False,
    channel: bool = False,
    endpoint: bool = False,
    query: dict[str, str] | None = None,
    **headers: Any,
) -> Callable[[World], Any]:
    def get(world: World) -> Any:
        kwargs = {"project": world.project.public_id}
        if channel:
            assert world.channel is not None
            kwargs["channel"] = world.channel.public_id
        if trace:
            assert world.wide is not None
            kwargs["trace"] = world.wide.public_id if api else world.wide.name
        if endpoint:  # the busiest endpoint of the wide trace's model
            assert world.wide is not None
            version = world.wide.model_versions.get()
            kwargs["model"] = version.public_id
            kwargs["endpoint"] = version.endpoints.order_by("-count", "pk").first().public_id  # type: ignore[union-attr]
        url = reverse(name, kwargs=kwargs)
        params = {key: world.wide.public_id if value == "WIDE" else value for key, value in (query or {}).items()}  # type: ignore[union-attr]
        return world.api.get(url, params) if api else world.console.get(url, params, **headers)

    return get


DIFF = {"base": "WIDE", "head": "project"}


PAGES = {
    "console trace list": page("trace-list"),
    "console trace table (polled)": page("trace-list", HTTP_HX_TARGET="trace-table", **HTMX),
    "console overview": page("project-overview"),
    "console overview (polled)": page("project-overview", **HTMX),
    "console trace page": page("trace-detail", trace=True),
    "console trace status (polled)": page("trace-live", trace=True, **HTMX),
    "console trace page grouped by host, by p99": page(
        "trace-detail", trace=True, query={"group": "host", "sort": "p99"}
    ),
    "console trace page, errors tab, filtered": page(
        "trace-detail", trace=True, query={"tab": "errors", "method": "GET", "sensitive": "1", "page": "2"}
    ),
    "console endpoints table (htmx)": page(
        "trace-detail", trace=True, query={"group": "prefix", "sort": "count"}, HTTP_HX_TARGET="endpoints", **HTMX
    ),
    "console endpoint detail": page("endpoint-detail", endpoint=True),
    "console diff": page("model-diff", query=DIFF),
    "api diff": page("api:model-diff", api=True, query=DIFF),
    "console project model": page("project-model"),
    "console daemons": page("daemon-list"),
    "console daemon table (polled)": page("daemon-list", HTTP_HX_TARGET="daemon-table", **HTMX),
    "console members": page("member-list"),
    "console alerts": page("alert-list"),
    "console alert table (polled)": page("alert-list", HTTP_HX_TARGET="alert-table", **HTMX),
    "console alert channels": page("alert-channel-list"),
    "console alert channel and its log": page("alert-channel-detail", channel=True),
    "console monitors": page("monitor-list"),
    "api alerts": page("api:alerts", api=True),
    "api alert channels": page("api:alert-channels", api=True),
    "api alert channel and its log": page("api:alert-channel", api=True, channel=True),
    "api monitors": page("api:monitors", api=True),
    "api traces": page("api:traces", api=True),
    "api daemons": page("api:daemons", api=True),
    "api trace model": page("api:trace-model", api=True, trace=True),
    "api project model": page("api:project-model", api=True),
    "api members": page("api:project-members", api=True),
    "api projects": lambda world: world.api.get(reverse("api:projects")),
    "api keys": lambda world: world.api.get(reverse("api:api-keys")),
    "console projects": lambda world: world.console.get(reverse("project-list")),
    "console api keys": lambda world: world.console.get(reverse("api-key-list")),
}


def queries(world: World, get: Callable[[World], Any]) -> int:
    get(world)  # once first: the key's last_used_at is written at most once a minute
    with CaptureQueriesContext(connection) as captured:
        response = get(world)
    assert response.status_code in (200, 286), response.content[:300]
    return len(captured)


@pytest.mark.parametrize("name", PAGES)
def test_a_page_costs_the_same_queries_for_2_rows_as_for_20(name: str, world: World) -> None:
    world.grow_to(2)
    few = queries(world, PAGES[name])
    world.grow_to(20)
    assert queries(world, PAGES[name]) == few
