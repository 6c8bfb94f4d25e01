from collections.abc import Callable

import pytest
from django.test import Client

from projects.models import User


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    """`login(alice)` gives the test client logged in as alice."""

    def as_user(user: User) -> Client:
        client.force_login(user)
        return client

    return as_user


HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str) -> dict[str, str]:
    """Headers of an htmx request whose target is the element with this id."""
    return {**HTMX, "HTTP_HX_TARGET": target}
