from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.throttling import SimpleRateThrottle

from daemons.models import Daemon, DaemonStatus
from daemons.services import daemons_delete_expired, daemons_touch

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (timedelta(0), DaemonStatus.HEALTHY),
        (timedelta(seconds=59, microseconds=999999), DaemonStatus.HEALTHY),
        (timedelta(seconds=60), DaemonStatus.UNHEALTHY),
        (timedelta(minutes=59, seconds=59), DaemonStatus.UNHEALTHY),
        (timedelta(hours=1), DaemonStatus.EXPIRED),
    ],
)
def test_daemon_status_at_the_boundaries(age: timedelta, status: DaemonStatus) -> None:
    daemon = Daemon(name="d", first_seen_at=T0, last_heartbeat_at=T0)
    assert daemon.get_status(T0 + age) == status


def test_a_heartbeat_shows_the_daemon_healthy_then_unhealthy_then_gone(alice, project, key_client) -> None:
    client = key_client(alice, scope="ingest")
    viewer = key_client(alice)
    with time_machine.travel(T0, tick=False) as clock:
        response = client.post(
            "/api/v1/daemon/heartbeat",
            {
                "daemon_name": "web-1",
                "version": "0.3.1",
                "projects": ["shop"],
                "middleware": [{"project": "shop", "client_name": "akita-django"}],
            },
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["heartbeat_interval_seconds"] > 0
        assert response.json()["server_time"].startswith("2026-01-05T12:00:00")
        [daemon] = viewer.get("/api/v1/projects/shop/daemons").json()["results"]
        assert daemon["status"] == "healthy"
        assert daemon["version"] == "0.3.1"
        assert daemon["middleware_clients"] == ["akita-django"]
        assert daemon["id"].startswith("dmn_")
        clock.shift(timedelta(seconds=61))
        assert viewer.get("/api/v1/projects/shop/daemons").json()["results"][0]["status"] == "unhealthy"
        clock.shift(timedelta(hours=1))
        assert viewer.get("/api/v1/projects/shop/daemons").json()["results"] == []


def test_a_heartbeat_without_projects_refreshes_the_daemons_of_that_name(alice, project, key_client) -> None:
    client = key_client(alice, scope="ingest")
    with time_machine.travel(T0, tick=False) as clock:
        client.post("/api/v1/daemon/heartbeat", {"daemon_name": "web-1", "projects": ["shop"]}, format="json")
        clock.shift(timedelta(minutes=5))
        client.post("/api/v1/daemon/heartbeat", {"daemon_name": "web-1"}, format="json")
        assert Daemon.objects.get(name="web-1").last_heartbeat_at == T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "daemon_name"),
        ({"daemon_name": ""}, "daemon_name"),
        ({"daemon_name": "d", "projects": "shop"}, "projects"),
        ({"daemon_name": "d", "projects": ["nope"]}, "projects[0]"),
        ({"daemon_name": "d", "projects": ["shop"], "middleware": [{"project": "shop"}]}, "middleware[0].client_name"),
        (
            {"daemon_name": "d", "projects": ["shop"], "middleware": [{"project": "x", "client_name": "c"}]},
            "middleware[0].project",
        ),
    ],
)
def test_a_bad_heartbeat_names_the_field(alice, project, key_client, body: dict, field: str) -> None:
    response = key_client(alice, scope="ingest").post("/api/v1/daemon/heartbeat", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Daemon.objects.exists()


def test_an_outsiders_heartbeat_cannot_name_the_project(charlie, project, key_client) -> None:
    response = key_client(charlie, scope="ingest").post(
        "/api/v1/daemon/heartbeat", {"daemon_name": "d", "projects": ["shop"]}, format="json"
    )
    assert response.status_code == 400
    assert not Daemon.objects.exists()


def test_the_beat_task_deletes_daemons_gone_for_a_week(alice, project, key_client) -> None:
    with time_machine.travel(T0, tick=False):
        key_client(alice).post("/api/v1/daemon/heartbeat", {"daemon_name": "d", "projects": ["shop"]}, format="json")
    assert daemons_delete_expired(now=T0 + timedelta(days=6)) == 0
    assert daemons_delete_expired(now=T0 + timedelta(days=7, seconds=1)) == 1


def test_too_many_heartbeats_get_429_with_retry_after(alice, project, key_client, monkeypatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"ingest": "2/min"})
    cache.clear()
    client = key_client(alice, scope="ingest")
    body = {"daemon_name": "d", "projects": ["shop"]}
    statuses = [client.post("/api/v1/daemon/heartbeat", body, format="json").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = client.post("/api/v1/daemon/heartbeat", body, format="json")
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"


def test_polled_daemons_are_touched_together_and_new_ones_created(project) -> None:
    daemons_touch(project_id=project.pk, names=["a"], now=T0)
    with CaptureQueriesContext(connection) as queries:
        daemons_touch(project_id=project.pk, names=["a", "b", "c"], now=T0 + timedelta(seconds=20))
    assert [query["sql"].split()[0] for query in queries] == ["UPDATE", "SELECT", "INSERT", "UPDATE"]
    with CaptureQueriesContext(connection) as queries:
        daemons_touch(project_id=project.pk, names=["a", "b", "c"], now=T0 + timedelta(seconds=40))
    assert [query["sql"].split()[0] for query in queries] == ["UPDATE"]
    assert {daemon.name: (daemon.first_seen_at, daemon.last_heartbeat_at) for daemon in Daemon.objects.all()} == {
        "a": (T0, T0 + timedelta(seconds=40)),
        "b": (T0 + timedelta(seconds=20), T0 + timedelta(seconds=40)),
        "c": (T0 + timedelta(seconds=20), T0 + timedelta(seconds=40)),
    }


def test_a_known_daemon_is_touched_with_one_conditional_update(project) -> None:
    daemons_touch(project_id=project.pk, names=["d"], now=T0)
    with CaptureQueriesContext(connection) as queries:
        daemons_touch(project_id=project.pk, names=["d"], now=T0 + timedelta(seconds=20), version="2.0")
    assert [query["sql"].split()[0] for query in queries] == ["UPDATE"]
    daemon = Daemon.objects.get()
    assert (daemon.first_seen_at, daemon.last_heartbeat_at, daemon.version) == (
        T0,
        T0 + timedelta(seconds=20),
        "2.0",
    )
