"""Redis stopped mid-flight on the production-like stack (a Redis of the test's own, on its own port): the final
build queued while it was down runs once it is back, and no acknowledged witness is lost."""

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import requests

from bench.stack import free_port, production_stack

DEADLINE_SECONDS = 120  # beat sends builds the broker missed every 30 s


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server, empty (no persistence, as a restarted Redis may come back), and wait for it."""
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.stop()


@pytest.mark.worker
def test_a_final_build_queued_while_redis_is_down_runs_when_it_is_back(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, entry: Callable[..., dict]
) -> None:
    monkeypatch.setenv("STACK_REDIS_URL", own_redis.url)
    with production_stack() as stack:
        session = requests.Session()
        session.auth = stack.api_key("alice")
        api = f"{stack.url}/api/v1/projects"
        assert session.post(api, json={"name": "shop"}).status_code == 201
        trace = session.post(f"{api}/shop/traces", json={"duration_minutes": 60}).json()
        acknowledged = 0

        def upload(n: int) -> int:
            nonlocal acknowledged
            entries = [entry(url=f"https://api.shop.test/v1/products/{n * 50 + i}") for i in range(50)]
            batch: dict[str, Any] = {"daemon_name": "web-1", "batch_id": f"b{n}", "entries": entries}
            response = session.post(f"{api}/shop/traces/{trace['id']}/witnesses", json=batch)
            if response.status_code == 202:
                acknowledged += response.json()["accepted"]
            return response.status_code

        assert [upload(n) for n in range(10)] == [202] * 10
        own_redis.stop()
        during = [upload(n) for n in range(10, 20)]  # whatever these answer, each 202 must reach the model
        stop = session.post(f"{api}/shop/traces/{trace['id']}/stop")
        assert stop.status_code == 200, stop.text  # committed, its build waiting for the broker
        assert stop.json()["model_build"]["status"] == "queued"
        own_redis.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (build := session.get(f"{api}/shop/traces/{trace['id']}").json()["model_build"])["status"] != "ready":
            assert build["status"] != "failed", build["error"]
            assert time.monotonic() < deadline, f"the final build did not run: {build}, uploads {during}"
            time.sleep(0.5)
        stored = session.get(f"{api}/shop/traces/{trace['id']}").json()["witness_count"]
        model = session.get(f"{api}/shop/traces/{trace['id']}/model").json()
    assert acknowledged >= 500
    assert model["witness_count"] == stored >= acknowledged
    assert model["id"] == build["id"]
