"""Shared fixtures: alice owns the project, bob is a member, charlie is an outsider."""

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from controlplane.celery import Queue
from controlplane.celery import app as celery_app
from projects.models import ApiKey, Project, User
from projects.services import api_key_create, membership_add, project_create
from traces.models import HarUpload, Trace
from traces.names import trace_names_from_file
from traces.services import trace_create
from traces.uploads import har_import

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Unit and API tests run tasks in-process; end-to-end tests use `celery_worker` instead."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def make_user(username: str) -> User:
    return User.objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD)


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")


@pytest.fixture
def charlie(db: None) -> User:
    return make_user("charlie")


@pytest.fixture
def project(alice: User, bob: User) -> Project:
    project = project_create(owner=alice, name="shop")
    membership_add(project=project, username=bob.username)
    return project


def basic_auth(key: ApiKey, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key.public_id}:{secret}".encode()).decode()


@pytest.fixture
def key_client() -> Callable[..., APIClient]:
    """An API client that authenticates with a new key of the user: `key_client(alice, scope="ingest")`."""

    def make(user: User, scope: str = ApiKey.Scope.FULL) -> APIClient:
        key, secret = api_key_create(user=user, name="test", scope=scope)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=basic_auth(key, secret))
        return client

    return make


@pytest.fixture
def session_client() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


def database_url_for_subprocess() -> str:
    """The test database as a DATABASE_URL, for processes started by a test."""
    config = connection.settings_dict
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{config['NAME']}"
    user = config["USER"] or ""
    auth = f"{user}:{config['PASSWORD']}@" if config["PASSWORD"] else (f"{user}@" if user else "")
    return f"postgres://{auth}{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


def subprocess_env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": settings.REDIS_URL,
        "PAWPRINT_VAR_DIR": str(settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "controlplane.settings",
    }


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Settings of the `celery_worker` process, as environment variables; a test module may override it."""
    return {}


def start_celery_worker(
    env: dict[str, str], *, name: str = "test-worker", pool: str = "solo"
) -> subprocess.Popen[bytes]:
    """A real Celery worker process on the test database and the configured broker, started and ready;
    its output in `VAR_DIR/<name>.log`. Whoever starts it stops it."""
    log = settings.VAR_DIR / f"{name}.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "controlplane",
                "worker",
                "-Q",
                ",".join(Queue),
                "--pool",
                pool,
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env={**subprocess_env(), **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return worker


@pytest.fixture
def celery_worker(transactional_db: None, worker_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the test database and the configured broker."""
    celery_app.conf.task_always_eager = False
    worker = start_celery_worker(worker_env)
    yield worker
    worker.terminate()
    worker.wait(timeout=30)


def har_entry(
    method: str = "GET",
    url: str = "https://api.shop.test/v1/products",
    status: int = 200,
    body: object | None = None,
    started: str = "2026-01-05T12:00:00.000Z",
    time_ms: float = 12.5,
) -> dict:
    """A HAR 1.2 entry with a JSON response body."""
    text = json.dumps(body if body is not None else {"id": 1, "name": "Lamp"})
    return {
        "startedDateTime": started,
        "time": time_ms,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "cookies": [],
            "content": {"size": len(text), "mimeType": "application/json", "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(text),
        },
        "cache": {},
        "timings": {"send": 1, "wait": time_ms - 2, "receive": 1},
    }


@pytest.fixture
def entry() -> Callable[..., dict]:
    return har_entry


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records each POST and answers with the next of `statuses` (then 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    reply: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)} of {count} requests after {timeout} s"
            time.sleep(0.05)
        return self.requests


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1 (a free port); tests that send to it allow private URLs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Receiver(url=f"http://127.0.0.1:{server.server_port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            found.requests.append(Received(self.path, dict(self.headers), body, time.monotonic()))
            time.sleep(found.delay)
            status = found.statuses.pop(0) if found.statuses else 200
            self.send_response(status)
            for name, value in found.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(found.reply)))
            self.end_headers()
            self.wfile.write(found.reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def har_upload(*, project: Project, user: User | None, content: bytes) -> Trace:
    """A HAR upload as the API makes it, its import run here: the trace with its witnesses stored and its
    model build queued (on commit)."""

    now = timezone.now()
    trace = trace_create(
        project=project,
        user=user,
        names=trace_names_from_file("upload.har"),
        started_at=now,
        ends_at=now,
        source=Trace.Source.HAR,
    )
    HarUpload.objects.create(trace=trace, payload=gzip.compress(content, 1))
    har_import(trace_id=trace.pk)
    trace.refresh_from_db()
    return trace
