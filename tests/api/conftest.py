"""Fixtures of the witness-upload tests: an active trace of alice's project, and a daemon's client (ingest key)."""

import pytest

from traces.models import Trace
from traces.services import trace_start


@pytest.fixture
def trace(alice, project) -> Trace:
    return trace_start(project=project, user=alice, duration_minutes=15)


@pytest.fixture
def daemon(alice, key_client):
    return key_client(alice, scope="ingest")
