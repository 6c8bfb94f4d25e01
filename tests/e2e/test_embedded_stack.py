"""`make run`'s stack for real: uvicorn, the Celery worker and beat on the filesystem broker, SQLite and the
in-process notifier, started by `python -m controlplane.embedded` in a folder of its own."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ..conftest import FIXTURES, Receiver

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = FIXTURES / "small.har"


@dataclass
class Stack:
    url: str
    auth: tuple[str, str]

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/api/v1{path}", auth=self.auth, timeout=40, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"PAWPRINT_VAR_DIR": str(tmp_path), "PORT": str(free_port()), "DJANGO_SUPERUSER_PASSWORD": "pw-12345678"}

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput")
    manage("createsuperuser", "--noinput", "--username", "erin", "--email", "erin@example.com")
    key_id, secret = manage("createapikey", "erin", "--scope", "full").strip().splitlines()[-1].split(":")
    log = tmp_path / "stack.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "controlplane.embedded"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while b"Pawprint is running" not in log.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        try:
            yield Stack(url=f"http://127.0.0.1:{env['PORT']}", auth=(key_id, secret))
        finally:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
            assert process.wait(timeout=60) == 0, log.read_text()


@pytest.mark.worker
def test_the_embedded_stack_serves_a_poll_a_start_and_a_model(stack: Stack) -> None:
    assert stack.api("POST", "/projects", json={"name": "shop"}).status_code == 201
    replies: list[tuple[dict, float]] = []

    def poll() -> None:
        response = stack.api("POST", "/projects/shop/daemon", json={"daemon_name": "web-1", "active_trace_ids": []})
        replies.append((response.json(), time.monotonic()))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)  # the poll is now held by the server
    started = time.monotonic()
    assert stack.api("POST", "/projects/shop/traces", json={"duration_minutes": 15, "name": "go"}).status_code == 201
    poller.join(timeout=30)
    [(reply, answered)] = replies
    assert [t["trace_name"] for t in reply["activated_traces"]] == ["go"]
    assert answered - started < 1.0

    with FIXTURE.open("rb") as har:
        trace = stack.api("POST", "/projects/shop/traces/har", files={"file": har}).json()
    deadline = time.monotonic() + 60
    # No build until a worker has imported the file.
    while (build := stack.api("GET", f"/projects/shop/traces/{trace['id']}").json()["model_build"] or {}).get(
        "status"
    ) != "ready":
        assert build.get("status") != "failed" and time.monotonic() < deadline, build
        time.sleep(0.3)
    assert len(stack.api("GET", f"/projects/shop/traces/{trace['id']}/model").json()["endpoints"]) == 7
    assert requests.get(f"{stack.url}/static/vendor/htmx.min.js", timeout=10).status_code == 200


@pytest.mark.worker
def test_the_embedded_stack_tells_a_local_webhook_and_a_mail_file_that_the_api_broke(
    stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    assert stack.api("POST", "/projects", json={"name": "shop"}).status_code == 201
    webhook = stack.api("POST", "/projects/shop/alert-channels", json={"kind": "webhook", "url": receiver.url})
    assert webhook.status_code == 201, webhook.text  # make run allows local receivers
    mail = stack.api("POST", "/projects/shop/alert-channels", json={"kind": "email", "email": "ops@example.com"})
    assert mail.status_code == 201
    for name in ("orders.har", "orders-breaking.har"):
        with (FIXTURES / name).open("rb") as har:
            assert stack.api("POST", "/projects/shop/traces/har", files={"file": har}).status_code == 201
    (received,) = receiver.wait_for(1, timeout=90)
    payload = received.json()
    assert (payload["event"], payload["details"]["breaking"]) == ("model.changed", True)
    reasons = {change["reason"] for change in payload["details"]["changed"]}
    assert {"response field removed", "request field became required"} <= reasons
    assert payload["url"].startswith(stack.url + "/projects/")
    (alert,) = stack.api("GET", "/projects/shop/alerts").json()["results"]
    deadline = time.monotonic() + 30
    while not list((tmp_path / "mail").glob("*.log")):
        assert time.monotonic() < deadline, alert
        time.sleep(0.3)
    (written,) = (tmp_path / "mail").glob("*.log")
    assert "Subject: [Pawprint] shop: model.changed" in written.read_text()
