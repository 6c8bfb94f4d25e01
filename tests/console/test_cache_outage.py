"""With Redis away, what the cache serves (the login lockout, throttles, the endpoint filters) fails open."""

import socket
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from projects.models import Project, User
from traces.models import Trace

from ..conftest import PASSWORD


@pytest.fixture
def redis_away(settings) -> Iterator[None]:
    """The cache points at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {"BACKEND": "controlplane.cache.FailOpenRedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    yield


def test_the_cache_reads_as_empty_and_keeps_nothing(redis_away: None) -> None:
    cache.set("kept", 1)
    assert cache.get("kept", "missing") == "missing"
    assert cache.add("counter", 0) is False
    assert cache.incr("counter") == 0
    assert cache.get_or_set("worked-out", lambda: 42) == 42
    assert cache.delete("kept") is False


def test_a_user_signs_in_and_reads_the_endpoints_table(
    redis_away: None, client: Client, project: Project, built: Trace
) -> None:
    owner: User = project.owner
    wrong = client.post("/login/", {"username": owner.username, "password": "wrong"})
    assert wrong.status_code == 200 and "Please enter a correct username and password" in wrong.text
    signed_in = client.post("/login/", {"username": owner.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    page = client.get(f"/projects/{project.public_id}/traces/{built.name}/?method=GET")
    assert page.status_code == 200
    table = page.text.split("<tbody>")[1]
    assert "products" in table and "DELETE" not in table  # filtered, with the filter options worked out again


def test_daemons_are_let_through(
    redis_away: None, settings, project: Project, key_client: Callable[..., APIClient]
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"ingest": "1/min", "poll": "1/min"},
    }
    client = key_client(project.owner)
    for _ in range(3):
        response = client.post(
            "/api/v1/daemon/heartbeat", {"daemon_name": "d1", "projects": [project.name]}, format="json"
        )
        assert response.status_code == 200, response.content
