"""Every route with a project in it, read from the URLconf, tried as the owner (alice), a member (bob), an
outsider (charlie) and anonymously; API routes also with ingest-scope keys.

The access each method needs is what the route table declares through the gate (projects.gate). A route the
gate does not cover fails here; so does a route whose view, reached by the owner, does not simply succeed
until REACHED says what it answers instead.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import path, reverse
from rest_framework.test import APIClient

from alerts.models import Alert, AlertChannel, Monitor
from alerts.services import channel_create, monitor_create
from apimodels.models import ModelVersion
from apimodels.selectors import path_hints_of
from projects.gate import Access, Route, check_project_routes, project_routes
from projects.models import ApiKey, Membership, Project, User
from projects.services import api_key_create
from traces.models import Trace

from .conftest import FIXTURES, basic_auth, har_upload

ROUTES = [(route, method) for route in project_routes() for method in (route.access or ["unclassified"])]
SUCCESS = {200, 201, 202, 204, 286, 302}
# What the owner's request reaches when the view answers something other than success: the view was reached
# (the project was found) and refused for a reason of its own.
REACHED = {
    ("api:trace-har-upload", "POST"): 400,  # no file sent
    ("api:model-diff", "GET"): 400,  # no base and head
    ("api:trace-witnesses", "POST"): 410,  # an uploaded HAR trace takes no witnesses
    ("trace-list", "POST"): 400,  # no duration
    ("api:trace", "PATCH"): 400,  # no name
    ("trace-edit", "POST"): 400,  # no name
    ("member-add", "POST"): 400,  # no username
    ("api:alert-channels", "POST"): 400,  # no kind
    ("api:monitors", "POST"): 400,  # no kind
    ("alert-channel-list", "POST"): 400,  # no kind
    ("monitor-list", "POST"): 400,  # no kind
}
# Kept here as well as in the route table, so that loosening an owner-only action, or opening a route to
# ingest keys, takes two deliberate edits.
OWNER_ONLY = {
    ("api:project", "DELETE"),
    ("api:project-members", "POST"),
    ("project-delete", "POST"),
    ("member-add", "POST"),
    ("member-remove", "POST"),
    # Channels decide where the project's data is sent and hold signing secrets; deleting a channel or a
    # monitor silences alerts for everyone. Members may add monitors and send test notifications.
    ("api:alert-channels", "POST"),
    ("api:alert-channel", "DELETE"),
    ("api:monitor", "DELETE"),
    ("alert-channel-list", "POST"),
    ("alert-channel-delete", "POST"),
    ("monitor-delete", "POST"),
    # Deleting a trace removes its traffic from the project's model for everyone.
    ("api:trace", "DELETE"),
    ("trace-delete", "POST"),
}
DAEMON_KEYS = {("api:trace-witnesses", "POST"), ("api:daemon-long-poll", "POST")}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("api:traces", "POST"): {"duration_minutes": 15},
    ("api:project-members", "POST"): {"username": "charlie"},
    ("api:trace-witnesses", "POST"): {"daemon_name": "d", "batch_id": "b", "entries": []},
    ("api:daemon-long-poll", "POST"): {"daemon_name": "d", "active_trace_ids": []},
}


@dataclass
class World:
    project: Project
    trace: Trace
    channel: AlertChannel
    monitor: Monitor
    users: dict[str, User]

    def state(self) -> tuple[object, ...]:
        """What a refused request must leave as it was."""
        return (
            Project.objects.count(),
            Membership.objects.count(),
            Trace.objects.count(),
            ModelVersion.objects.count(),
            path_hints_of(self.project),
            Trace.objects.filter(stopped_at__isnull=False).count(),
            AlertChannel.objects.count(),
            Monitor.objects.count(),
            Alert.objects.count(),
        )

    def url(self, route: Route) -> str:
        model = self.trace.model_versions.get()
        values = {
            "project": self.project.name,
            "trace": self.trace.name,
            "model": model.public_id,
            "endpoint": model.endpoints.first().public_id,  # type: ignore[union-attr]
            "username": "bob",
            "channel": self.channel.public_id,
            "monitor": self.monitor.public_id,
        }
        missing = route.parameters - values.keys()
        assert not missing, f"{route.name}: give the access matrix a value for {sorted(missing)}"
        return reverse(route.name, kwargs={name: values[name] for name in route.parameters})


@pytest.fixture
def world(
    project: Project, alice: User, bob: User, charlie: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> World:
    settings.LONG_POLL_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        trace = har_upload(project=project, user=alice, content=(FIXTURES / "small.har").read_bytes())
    # An email channel: sending it a test notification reaches Django's test mail outbox, not the network.
    channel, _ = channel_create(project=project, kind="email", email="ops@example.com")
    monitor = monitor_create(project=project, kind="errors", threshold=5)
    users = {"alice": alice, "bob": bob, "charlie": charlie}
    return World(project=project, trace=trace, channel=channel, monitor=monitor, users=users)


def console_client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_client(user: User | None, scope: str = ApiKey.Scope.FULL) -> APIClient:
    client = APIClient()
    if user is not None:
        key, secret = api_key_create(user=user, scope=scope)
        client.credentials(HTTP_AUTHORIZATION=basic_auth(key, secret))
    return client


Expect = Callable[[Any], str | None]


def expect_status(*statuses: int) -> Expect:
    def check(response: Any) -> str | None:
        return None if response.status_code in statuses else f"{response.status_code}, expected {statuses}"

    return check


def expect_api_error(status: int, code: str) -> Expect:
    def check(response: Any) -> str | None:
        body = response.json() if response["Content-Type"] == "application/json" else {}
        if response.status_code != status or body.get("error", {}).get("code") != code:
            return f"{response.status_code} {body}, expected {status} {code}"
        return None

    return check


def reached(route: Route, method: str) -> Expect:
    status = REACHED.get((route.name, method))
    return expect_status(status) if status else expect_status(*SUCCESS)


@dataclass
class Case:
    who: str
    user: str | None
    scope: str
    expect: Expect
    refused: bool


def cases(route: Route, method: str, access: Access) -> list[Case]:
    """Who tries the route, and what they must get, in an order where nothing the owner does hides a refusal."""
    owner_only, daemon = access == Access.OWNER, access == Access.DAEMON
    ok = reached(route, method)
    if not route.name.startswith("api:"):
        return [
            Case("anonymous", None, "", expect_status(302), refused=True),
            Case("charlie", "charlie", "", expect_status(404), refused=True),
            Case("bob", "bob", "", expect_status(403) if owner_only else ok, refused=owner_only),
            Case("alice", "alice", "", ok, refused=False),
        ]
    not_found, not_allowed = expect_api_error(404, "not_found"), expect_api_error(403, "permission_denied")
    return [
        Case("anonymous", None, "", expect_api_error(401, "not_authenticated"), refused=True),
        Case("charlie", "charlie", "full", not_found, refused=True),
        Case("charlie's ingest key", "charlie", "ingest", not_found if daemon else not_allowed, refused=True),
        Case("alice's ingest key", "alice", "ingest", ok if daemon else not_allowed, refused=not daemon),
        Case("bob", "bob", "full", not_allowed if owner_only else ok, refused=owner_only),
        Case("alice", "alice", "full", ok, refused=False),
    ]


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{method} {route.name}" for route, method in ROUTES])
def test_each_project_route_lets_in_exactly_who_its_access_says(route: Route, method: str, world: World) -> None:
    assert route.access is not None, f"{route.route} takes a project but was not declared through the gate"
    url = world.url(route)
    body = BODIES.get((route.name, method))
    failures = []
    for case in cases(route, method, route.access[method]):
        user = world.users[case.user] if case.user else None
        before = world.state()
        response: Any
        if route.name.startswith("api:"):
            data = "" if body is None else json.dumps(body)
            response = api_client(user, case.scope).generic(method, url, data, content_type="application/json")
        else:
            response = console_client(user).generic(method, url)
        if problem := case.expect(response):
            failures.append(f"{case.who}: {problem}")
        if case.refused and world.state() != before:
            failures.append(f"{case.who}: refused, yet something changed")
        if case.user is None and not route.name.startswith("api:"):
            assert response["Location"].startswith(reverse(settings.LOGIN_URL))
    assert not failures, f"{method} {url}: " + "; ".join(failures)


@pytest.mark.parametrize(("access", "expected"), [(Access.OWNER, OWNER_ONLY), (Access.DAEMON, DAEMON_KEYS)])
def test_the_route_table_gives_owner_only_and_daemon_access_where_expected(access: Access, expected: set) -> None:
    declared = {(route.name, method) for route, method in ROUTES if route.access and route.access[method] == access}
    assert declared == expected


def test_the_gate_covers_every_project_route_and_finds_one_it_does_not() -> None:
    assert not check_project_routes()
    ungated = path("projects/<str:project>/secret/", lambda request, project: HttpResponse(project), name="secret")
    (route,) = project_routes(patterns=[ungated])
    assert route.access is None


def test_a_project_can_be_addressed_by_id_or_name(project: Project, alice: User) -> None:
    client = api_client(alice)
    by_name = client.get(reverse("api:project", kwargs={"project": project.name})).json()
    by_id = client.get(reverse("api:project", kwargs={"project": project.public_id})).json()
    assert by_name == by_id
    assert by_id["id"].startswith("prj_") and len(by_id["id"]) == 4 + 22
