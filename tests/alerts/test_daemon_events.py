"""Daemon status transitions, in frozen time: one alert per transition, within a beat, never repeated."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from alerts import tasks
from alerts.models import Alert, AlertChannel, DaemonWatch, Delivery
from alerts.services import channel_create
from daemons.services import daemon_heartbeat
from projects.models import Project, User

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def inbox(project: Project) -> AlertChannel:
    channel, _ = channel_create(project=project, kind=AlertChannel.Kind.EMAIL, email="ops@example.com")
    return channel


@pytest.fixture
def beat(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[[], list[str]]:
    """Run the daemon watch as beat does; returns the events it raised (and delivered, after commit)."""

    def run() -> list[str]:
        before = set(Alert.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            tasks.daemons_watch()
        return list(Alert.objects.exclude(pk__in=before).order_by("pk").values_list("event", flat=True))

    return run


def heartbeat(alice: User, project: Project) -> None:
    daemon_heartbeat(user=alice, daemon_name="web-1", project_refs=[project.name], now=timezone.now())


def test_a_daemon_crossing_60_s_and_1_h_gives_one_alert_each_and_recovering_gives_healthy(
    project: Project, alice: User, inbox: AlertChannel, clock: time_machine.Traveller, beat: Callable[[], list[str]]
) -> None:
    heartbeat(alice, project)
    assert beat() == []  # a new daemon is only noted
    assert DaemonWatch.objects.get().status == "healthy"
    clock.shift(59)
    assert beat() == []
    clock.shift(2)  # 61 s without a heartbeat
    assert beat() == ["daemon.unhealthy"]
    for _ in range(5):
        clock.shift(10)
        assert beat() == []
    clock.move_to(T0 + timedelta(hours=1) - timedelta(seconds=1))
    assert beat() == []
    clock.shift(2)
    assert beat() == ["daemon.expired"]
    clock.shift(600)
    assert beat() == []
    heartbeat(alice, project)
    assert beat() == ["daemon.healthy"]
    clock.shift(30)
    heartbeat(alice, project)
    assert beat() == []

    unhealthy, expired, healthy = Alert.objects.order_by("pk")
    assert unhealthy.occurred_at == T0 + timedelta(minutes=1)
    assert expired.occurred_at == T0 + timedelta(hours=1)
    assert unhealthy.details["daemon"]["name"] == "web-1"
    assert (unhealthy.details["previous_status"], unhealthy.details["status"]) == ("healthy", "unhealthy")
    assert (healthy.details["previous_status"], healthy.details["status"]) == ("expired", "healthy")
    assert "web-1" in unhealthy.summary and "unhealthy" in unhealthy.summary
    assert unhealthy.url.endswith(f"/projects/{project.public_id}/daemons/")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert [message.subject for message in mail.outbox] == [
        "[Pawprint] shop: daemon.unhealthy",
        "[Pawprint] shop: daemon.expired",
        "[Pawprint] shop: daemon.healthy",
    ]


def test_a_daemon_back_within_the_hour_is_healthy_again(
    project: Project, alice: User, clock: time_machine.Traveller, beat: Callable[[], list[str]]
) -> None:
    heartbeat(alice, project)
    beat()
    clock.shift(90)
    assert beat() == ["daemon.unhealthy"]
    heartbeat(alice, project)
    assert beat() == ["daemon.healthy"]
    clock.shift(90)
    assert beat() == ["daemon.unhealthy"]  # a second outage is a new transition


def test_each_daemon_is_watched_on_its_own(
    project: Project, alice: User, clock: time_machine.Traveller, beat: Callable[[], list[str]]
) -> None:
    daemon_heartbeat(user=alice, daemon_name="web-1", project_refs=[project.name], now=timezone.now())
    daemon_heartbeat(user=alice, daemon_name="web-2", project_refs=[project.name], now=timezone.now())
    beat()
    clock.shift(45)
    daemon_heartbeat(user=alice, daemon_name="web-2", project_refs=[project.name], now=timezone.now())
    clock.shift(30)
    assert beat() == ["daemon.unhealthy"]
    assert Alert.objects.get().details["daemon"]["name"] == "web-1"


def test_a_daemon_first_seen_already_unhealthy_is_noted_without_an_alert(
    project: Project, alice: User, clock: time_machine.Traveller, beat: Callable[[], list[str]]
) -> None:
    heartbeat(alice, project)
    clock.shift(300)  # beat was not running when the daemon was last heard from
    assert beat() == []
    assert DaemonWatch.objects.get().status == "unhealthy"


def test_a_project_without_channels_keeps_the_history(
    project: Project, alice: User, clock: time_machine.Traveller, beat: Callable[[], list[str]]
) -> None:
    heartbeat(alice, project)
    beat()
    clock.shift(61)
    assert beat() == ["daemon.unhealthy"]
    assert not Delivery.objects.exists()
