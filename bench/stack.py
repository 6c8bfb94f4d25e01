"""The production-like stack on loopback, for benchmarks and fault tests.

The processes are the Procfile's own commands (gunicorn with uvicorn workers, a Celery worker, beat), bound to
127.0.0.1, on a PostgreSQL database and a Redis database of their own that are created empty and dropped after:

    with production_stack() as stack:
        key = stack.api_key("alice")          # a user with a full-scope key
        requests.get(f"{stack.url}/api/v1/projects", auth=key)

`web_servers=2` starts two gunicorn instances on different ports (`stack.urls`), as a user grows past one machine.
Base URLs come from `STACK_DATABASE_URL` (a PostgreSQL server; default the local one) and `STACK_REDIS_URL`.
"""

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile_commands() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if command.strip():
            commands[kind.strip()] = command.strip()
    return commands


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin_connection(base: str) -> psycopg.Connection:
    return psycopg.connect(_database_url(base, "postgres"), autocommit=True)


@dataclass
class Stack:
    """Running processes of the stack and what a client needs to reach them."""

    env: dict[str, str]
    var_dir: Path
    urls: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.urls[0]

    def manage(self, *args: str) -> str:
        """Run a manage.py command against the stack's database; its standard output."""
        done = subprocess.run(  # noqa: S603 - our own manage.py
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def api_key(self, username: str, scope: str = "full") -> tuple[str, str]:
        """A new user (if needed) and a key of theirs, as a `requests` auth pair (key id, secret)."""
        self.manage(
            "shell",
            "-c",
            "from projects.models import User; "
            f"User.objects.filter(username={username!r}).exists() or "
            f"User.objects.create_user(username={username!r}, password={secrets.token_hex(8)!r})",
        )
        key_id, _, secret = (
            self.manage("createapikey", username, "--scope", scope).strip().rpartition("\n")[2].partition(":")
        )
        return key_id, secret

    def start(self, name: str, kind: str, **substitutions: str) -> subprocess.Popen[bytes]:
        """Start the Procfile's `kind` process as `name`, its output in `var_dir/name.log`."""
        command = procfile_commands()[kind].replace("0.0.0.0", "127.0.0.1")  # noqa: S104 - replaced, not bound
        for variable, value in substitutions.items():
            command = command.replace(f"${variable}", value)
        argv = shlex.split(command)
        argv[0] = str(BIN / argv[0])
        with (self.var_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self.processes[name] = process
        return process

    def start_web(self, name: str) -> str:
        """Start a gunicorn instance on a free port and wait until it answers; its URL."""
        port = free_port()
        process = self.start(name, "web", PORT=str(port))
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(url), process, name, self.var_dir)
        self.urls.append(url)
        return url

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        """Start the Procfile's Celery worker and wait until it is ready."""
        process = self.start(name, "worker")
        log = self.var_dir / f"{name}.log"
        _wait(lambda: b"ready." in log.read_bytes(), process, name, self.var_dir)
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Send `sig` to a process of the stack and reap it."""
        process = self.processes.pop(name)
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/?format=json", timeout=2):  # noqa: S310 - our own loopback URL
            return True
    except urllib.error.HTTPError:
        return True  # serving, though a check (a worker still starting) fails
    except OSError:
        return False


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str, var_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start:\n{(var_dir / f'{name}.log').read_text()[-4000:]}")
        time.sleep(0.2)


@contextmanager
def production_stack(*, web_servers: int = 1, worker: bool = True, beat: bool = True) -> Iterator[Stack]:
    """The stack on a new empty database and Redis db; everything is stopped and dropped on exit."""
    base = os.environ.get("STACK_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("STACK_REDIS_URL", DEFAULT_REDIS_URL)
    database = f"pawprint_stack_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _admin_connection(base)
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    redis.Redis.from_url(redis_url).flushdb()
    with tempfile.TemporaryDirectory(prefix="pawprint-stack-") as var_dir:
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "controlplane.settings",
            "DATABASE_URL": _database_url(base, database),
            "REDIS_URL": redis_url,
            "PAWPRINT_EMBEDDED": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PAWPRINT_VAR_DIR": var_dir,
        }
        stack = Stack(env=env, var_dir=Path(var_dir))
        try:
            stack.manage("migrate", "--noinput")
            if worker:
                stack.start_worker()
            if beat:
                stack.start("beat", "beat")
            for n in range(web_servers):
                stack.start_web(f"web{n + 1}")
            yield stack
        finally:
            for name in list(stack.processes):
                stack.stop(name)
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.close()
