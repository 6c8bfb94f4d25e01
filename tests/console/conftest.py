from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apimodels.models import ModelVersion
from projects.models import Project, User
from traces.models import Trace

from ..conftest import har_upload

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """`login(alice)` gives the test client logged in as alice."""

    def as_user(user: User) -> Client:
        client.force_login(user)
        return client

    return as_user


HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str) -> dict[str, Any]:
    """Headers of an htmx request whose target is the element with this id."""
    return {**HTMX, "HTTP_HX_TARGET": target}


@pytest.fixture
def built(project: Project, django_capture_on_commit_callbacks: Callable[..., object]) -> Trace:
    """A trace from small.har whose model was built (eagerly, after commit), and the project model after it."""
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        trace = har_upload(project=project, user=project.owner, content=SMALL_HAR.read_bytes())
    assert trace.model_versions.get().status == ModelVersion.BuildStatus.READY
    return trace
