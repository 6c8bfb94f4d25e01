"""Schemathesis sends generated input to every documented operation: none may answer 5xx."""

import base64
import re
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from controlplane.wsgi import application
from projects.models import Project
from projects.services import api_key_create
from traces.services import trace_start

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, headers={"Accept": "application/vnd.oai.openapi+json"}
)
# Aim generated requests at a real project and an active trace, so they reach validation, not a 404.
REAL_PATH_PARAMETERS = {"project": "shop", "trace": "live"}


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Like Django's test client: a request must not close the connection holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(alice, project: Project, settings, keep_test_connection: None) -> dict[str, str]:
    settings.LONG_POLL_SECONDS = 0.05
    trace_start(project=project, user=alice, duration_minutes=15, name="live")
    key, secret = api_key_create(user=alice, scope="full")
    return {"Authorization": "Basic " + base64.b64encode(f"{key.public_id}:{secret}".encode()).decode()}


@schema.parametrize()
@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_input_causes_a_server_error(case, auth_header: dict[str, str]) -> None:
    for name, value in REAL_PATH_PARAMETERS.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    response = case.call(headers=auth_header)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
        assert "error" in response.json()


def api_paths(patterns: list, prefix: str = "") -> set[str]:
    paths = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths |= api_paths(pattern.url_patterns, route)
        else:
            paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return paths


def test_the_fuzzed_schema_has_every_api_route() -> None:
    (api,) = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "api"]
    assert api_paths(api.url_patterns, str(api.pattern)) == set(schema.raw_schema["paths"])
