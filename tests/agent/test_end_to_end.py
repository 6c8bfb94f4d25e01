"""The demo shop, its middleware, the agent, the control plane and a real Celery worker, each a real process.

Once with the unmodified akita-django from PyPI (in its own venv: it needs pydantic 1), once with pawprint_django
under WSGI (gunicorn, two workers) and once under ASGI (uvicorn). A trace started through the API must end with a
model holding exactly the shop's endpoints.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.akita_venv import akita_venv
from demo.traffic import ROUND, send_round
from projects.models import Project, User
from projects.services import api_key_create
from tests.agent.fakes import eventually, free_port
from traces.models import Trace

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "demo" / "app"
ENDPOINTS = json.loads((ROOT / "demo" / "endpoints.json").read_text())

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@contextmanager
def process(command: list[str], log: Path, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process for the length of the block; its output in `log`."""
    with log.open("wb") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def shop_command(middleware: str, server: str, port: int) -> list[str]:
    if middleware == "akita":
        python = str(akita_venv() / "bin" / "python")
        return [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "shop.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "uvicorn", "shop.asgi:application", "--port", str(port)]


def agent_status(port: int) -> dict[str, Any]:
    status: dict[str, Any] = requests.get(f"http://127.0.0.1:{port}/v1/status", timeout=10).json()
    return status


def middleware_knows(port: int, trace_id: str, processes: int) -> bool:
    """Every process of the shop polls again with the trace in its list: each has applied the activation."""
    for project in agent_status(port)["projects"]:
        for client in project["middleware_clients"]:
            if client["polls_held"] == processes and client["active_trace_ids"] == [trace_id]:
                return True
    return False


@pytest.fixture(autouse=True)
def fast_heartbeats(settings: Any) -> None:
    settings.LONG_POLL_SECONDS = 2.0
    settings.HEARTBEAT_INTERVAL_SECONDS = 1


@pytest.mark.parametrize(
    ("middleware", "server", "processes"),
    [("akita", "runserver", 1), ("pawprint", "gunicorn", 2), ("pawprint", "uvicorn", 1)],
    ids=["akita-django", "pawprint-wsgi", "pawprint-asgi"],
)
def test_a_trace_of_the_demo_shop_ends_with_a_model_of_exactly_its_endpoints(
    middleware: str, server: str, processes: int, live_server: Any, celery_worker: Any, alice: User,
    project: Project, tmp_path: Path,
) -> None:  # fmt: skip
    ingest, secret = api_key_create(user=alice, name="agent", scope="ingest")
    full, full_secret = api_key_create(user=alice, name="console", scope="full")
    api = f"{live_server.url}/api/v1/projects/shop"
    auth = (full.public_id, full_secret)
    agent_port, shop_port = free_port(), free_port()
    agent = [sys.executable, "-m", "agent", "--url", live_server.url, "--key", f"{ingest.public_id}:{secret}"]
    agent += ["--listen", f"127.0.0.1:{agent_port}", "--spool-dir", str(tmp_path / "spool"), "--daemon-name", "e2e"]
    env = os.environ | {"AKITA_DAEMON_HOST": f"127.0.0.1:{agent_port}", "AKITA_SERVICE_NAME": "shop"}
    env |= {"DEMO_MIDDLEWARE": middleware, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shop.settings"}
    with (
        process([*agent, "--batch-delay", "0.5"], tmp_path / "agent.log", cwd=ROOT),
        process(shop_command(middleware, server, shop_port), tmp_path / "shop.log", cwd=SHOP, env=env),
    ):
        eventually(lambda: middleware_knows_nothing_yet(agent_port, processes), timeout=60)
        trace = requests.post(f"{api}/traces", json={"duration_minutes": 15}, auth=auth, timeout=30).json()
        eventually(lambda: middleware_knows(agent_port, trace["id"], processes), timeout=10)
        for _ in range(2):
            assert send_round(f"http://127.0.0.1:{shop_port}") == [200, 201, 200, 200, 200, 404, 200, 302]
        sent = 2 * len(ROUND)
        eventually(lambda: Trace.objects.get(public_id=trace["id"]).witness_count == sent, timeout=30)
        stopped = requests.post(f"{api}/traces/{trace['id']}/stop", auth=auth, timeout=30)
        assert stopped.status_code == 200
        eventually(lambda: build_status(api, trace["id"], auth) in ("ready", "failed"), timeout=60)
        assert build_status(api, trace["id"], auth) == "ready"
        model = requests.get(f"{api}/traces/{trace['id']}/model", auth=auth, timeout=30).json()
        assert sorted([e["method"], e["path"]] for e in model["endpoints"]) == sorted(ENDPOINTS)
        daemons = requests.get(f"{api}/daemons", auth=auth, timeout=30).json()["results"]
        assert [(d["name"], d["status"], d["middleware_clients"]) for d in daemons] == [
            ("e2e", "healthy", ["demo-django"])
        ]
    agent_log = (tmp_path / "agent.log").read_text()
    assert "level=ERROR" not in agent_log and "level=WARNING" not in agent_log, agent_log
    assert "Traceback" not in (tmp_path / "shop.log").read_text()


def middleware_knows_nothing_yet(port: int, processes: int) -> bool:
    """The shop has started: each of its processes holds a poll, with no trace."""
    try:
        projects = agent_status(port)["projects"]
    except requests.ConnectionError:
        return False
    clients = [c for p in projects for c in p["middleware_clients"] if p["state"] == "ok"]
    return any(c["polls_held"] == processes for c in clients)


def build_status(api: str, trace_id: str, auth: tuple[str, str]) -> str:
    build = requests.get(f"{api}/traces/{trace_id}", auth=auth, timeout=30).json()["model_build"]
    return str(build["status"]) if build else "none"
