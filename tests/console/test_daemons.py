from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from daemons.models import Daemon, MiddlewareClient, TraceReach
from projects.models import Project, User
from traces.services import trace_start

from .conftest import htmx

Login = Callable[[User], Client]


def daemon(project: Project, name: str, age: timedelta, version: str = "") -> Daemon:
    seen = timezone.now() - age
    return Daemon.objects.create(
        project=project, name=name, version=version, first_seen_at=seen, last_heartbeat_at=seen
    )


def test_the_empty_state_shows_the_curl_commands(login: Login, project: Project) -> None:
    page = login(project.owner).get(f"/projects/{project.public_id}/daemons/").text
    assert "No daemon has checked in" in page
    assert "curl -u &#x27;KEY_ID:SECRET&#x27;" in page or "curl -u 'KEY_ID:SECRET'" in page
    assert "http://testserver/api/v1/daemon/heartbeat" in page
    assert "http://testserver/api/v1/projects/shop/daemon" in page
    assert '"projects": ["shop"]' in page.replace("&quot;", '"')


def test_daemons_with_status_version_and_clients(login: Login, project: Project, bob: User) -> None:
    fresh = daemon(project, "web-1", timedelta(seconds=5), version="0.4.2")
    MiddlewareClient.objects.create(daemon=fresh, client_name="akita-django", last_seen_at=timezone.now())
    daemon(project, "web-2", timedelta(minutes=5))
    daemon(project, "web-old", timedelta(hours=2))
    for user in (project.owner, bob):
        page = login(user).get(f"/projects/{project.public_id}/daemons/").text
        assert '<span class="badge healthy">healthy</span>' in page
        assert '<span class="badge unhealthy">unhealthy</span>' in page
        assert "0.4.2" in page
        assert "akita-django" in page
        assert "web-old" not in page


def test_the_daemon_table_refreshes_by_htmx(login: Login, project: Project) -> None:
    daemon(project, "web-1", timedelta(seconds=5))
    response = login(project.owner).get(f"/projects/{project.public_id}/daemons/", **htmx("daemon-table"))
    assert response.text.lstrip().startswith('<div id="daemon-table"')
    assert 'hx-trigger="every 10s"' in response.text
    assert "web-1" in response.text


def test_the_overview_counts_daemons_by_status(login: Login, project: Project) -> None:
    daemon(project, "a", timedelta(seconds=5))
    daemon(project, "b", timedelta(seconds=10))
    daemon(project, "c", timedelta(minutes=10))
    page = login(project.owner).get(f"/projects/{project.public_id}/").text
    assert '<div class="stat">2</div><span class="badge healthy">' in page
    assert '<div class="stat">1</div><span class="badge unhealthy">' in page


def test_the_trace_page_part_says_how_many_daemons_a_start_reached(alice, project) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15, name="go")
    now = timezone.now()
    for name in ("web-1", "web-2"):
        Daemon.objects.create(project=project, name=name, first_seen_at=now, last_heartbeat_at=now)
    TraceReach.objects.create(trace=trace, daemon_name="web-1", change=TraceReach.Change.START, at=now)
    client = Client()
    client.force_login(alice)
    response = client.get(f"/projects/{project.public_id}/traces/go/reach/")
    assert response.status_code == 200  # still polling: the trace is active
    assert "Start reached 1 of 2 daemons" in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()


def test_each_daemon_shows_what_became_of_its_traffic(login: Login, project: Project) -> None:
    reported = daemon(project, "web-1", timedelta(seconds=5))
    reported.traffic = {
        "since": "2026-01-05T11:00:00+00:00",
        "received": 12408,
        "uploaded": 12400,
        "pending": 5,
        "dropped": {"queue_full": 3},
    }
    reported.save()
    daemon(project, "web-2", timedelta(seconds=5))
    page = login(project.owner).get(f"/projects/{project.public_id}/daemons/").text
    assert (
        '12,408 received · 12,400 uploaded · 5 pending · <strong class="drops" '
        'title="queue full: the middleware&#x27;s in-process queue was full">3 dropped: queue full</strong>'
    ) in page
    assert "not reported" in page
