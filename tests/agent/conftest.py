"""Fixtures of the agent's tests; the fakes themselves are in `fakes.py`."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.daemon import AgentConfig

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def agent_config(tmp_path: Path) -> Callable[..., AgentConfig]:
    """`agent_config(**overrides)`: a listening agent on a free port with its spool under tmp_path."""

    def make(**overrides: Any) -> AgentConfig:
        values: dict[str, Any] = {
            "daemon_name": "web-1",
            "spool_dir": tmp_path / "spool",
            "listen": ("127.0.0.1", 0),
            "batch_max_delay": 0.2,
            "middleware_hold": 5.0,
            "backoff_initial": 0.05,
            "backoff_max": 0.5,
        }
        return AgentConfig(**(values | overrides))

    return make


@pytest.fixture(scope="session")
def akita_capture() -> list[dict[str, Any]]:
    """What akita-django 0.1.1 sent during one capture (see the file's `source`), in order."""
    requests: list[dict[str, Any]] = json.loads((FIXTURES / "akita-django-capture.json").read_text())["requests"]
    return requests
