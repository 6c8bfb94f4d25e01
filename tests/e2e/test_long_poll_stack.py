"""The long poll on the production stack (bench/stack.py: gunicorn + uvicorn workers, PostgreSQL, Redis):
held polls hold no database connection, a Start through one web server reaches polls held by another, and with
Redis gone polls and heartbeats keep answering."""

import asyncio
import base64
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from bench.scale_fanout import Connection
from bench.stack import Stack, free_port, production_stack

POOL_SIZE = 4  # per web worker process, for these stacks
WEB_WORKERS = 2  # the Procfile's -w
# A worker's threads that are no request's: its pool's (4, when it opens) and its event loop's executor's
NOT_PER_REQUEST_THREADS = 4 + min(32, (os.cpu_count() or 1) + 4)


@pytest.fixture(scope="module")
def two_servers() -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_POOL_SIZE", str(POOL_SIZE))
        with production_stack(web_servers=2, worker=False, beat=False) as stack:
            yield stack


@pytest.fixture(scope="module")
def keys(two_servers: Stack) -> dict[str, tuple[str, str]]:
    return project_with_keys(two_servers)


def project_with_keys(stack: Stack) -> dict[str, tuple[str, str]]:
    keys = {"full": stack.api_key("alice"), "ingest": stack.api_key("alice", scope="ingest")}
    requests.post(f"{stack.url}/api/v1/projects", json={"name": "shop"}, auth=keys["full"], timeout=30)
    return keys


def database_query(stack: Stack, sql: str, *params: Any) -> int:
    with psycopg.connect(stack.env["DATABASE_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        (value,) = cursor.fetchone() or (0,)
        return int(value)


def web_connections(stack: Stack) -> int:
    """Connections to the stack's database, other than this one."""
    return database_query(
        stack,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )


class Pollers:
    """Daemons long-polling one web server, each on a connection of its own."""

    def __init__(self, stack: Stack, url: str, key: tuple[str, str], prefix: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        authorization = "Basic " + base64.b64encode(":".join(key).encode()).decode()
        self.stack, self.prefix = stack, prefix
        self.connections = [Connection(host, int(port), authorization) for _ in range(count)]
        self.polls: list[asyncio.Task[dict[str, Any]]] = []

    def start(self, active: list[str]) -> None:
        self.polls = [
            asyncio.create_task(
                connection.post(
                    "/api/v1/projects/shop/daemon", {"daemon_name": f"{self.prefix}-{n}", "active_trace_ids": active}
                )
            )
            for n, connection in enumerate(self.connections)
        ]

    async def held(self, since: float = 0.0) -> None:
        """Until every poll touched its daemon (after `since`, epoch seconds), and a moment more."""
        sql = "SELECT count(*) FROM daemons_daemon WHERE name LIKE %s AND extract(epoch FROM last_heartbeat_at) > %s"
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(database_query, self.stack, sql, f"{self.prefix}-%", since) < len(self.polls):
            assert time.monotonic() < deadline, "the polls were not all held"
            assert not any(poll.done() for poll in self.polls), [poll.result() for poll in self.polls if poll.done()]
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)

    async def replies(self, timeout: float) -> list[dict[str, Any]]:
        return list(await asyncio.wait_for(asyncio.gather(*self.polls), timeout))

    def close(self) -> None:
        for poll in self.polls:
            poll.cancel()
        for connection in self.connections:
            connection.close()


def web_worker_threads(stack: Stack, server: str) -> list[int]:
    """The number of threads of each worker process of a gunicorn instance of the stack."""
    master = stack.processes[server].pid
    workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [len(list(Path(f"/proc/{worker}/task").iterdir())) for worker in workers]


def test_held_polls_hold_no_database_connection_and_no_thread(
    two_servers: Stack, keys: dict[str, tuple[str, str]]
) -> None:
    async def scenario() -> tuple[int, list[int], list[int], int, bool]:
        pollers = Pollers(two_servers, two_servers.url, keys["ingest"], "held", 200)
        try:
            threads_before = web_worker_threads(two_servers, "web1")
            pollers.start([])
            await pollers.held()
            connections = await asyncio.to_thread(web_connections, two_servers)
            threads_held = web_worker_threads(two_servers, "web1")
            listed = await asyncio.to_thread(
                requests.get, f"{two_servers.url}/api/v1/projects/shop/daemons", auth=keys["full"], timeout=30
            )
            return connections, threads_before, threads_held, listed.status_code, any(p.done() for p in pollers.polls)
        finally:
            pollers.close()

    connections, threads_before, threads_held, status, replied = asyncio.run(scenario())
    # Whatever the number of polls: each web process has a pool of POOL_SIZE, and a held poll holds none of it.
    assert connections <= len(two_servers.urls) * WEB_WORKERS * POOL_SIZE < 200
    # Nor a thread (Django's handler keeps one per held poll: ~100 a worker here).
    assert len(threads_held) == WEB_WORKERS
    growth = [held - before for before, held in zip(threads_before, threads_held, strict=True)]
    assert all(grown <= NOT_PER_REQUEST_THREADS for grown in growth), growth
    assert status == 200
    assert not replied  # they were held all along


def test_a_start_through_one_server_reaches_polls_held_by_the_other(
    two_servers: Stack, keys: dict[str, tuple[str, str]]
) -> None:
    first, second = two_servers.urls

    async def scenario() -> tuple[str, list[dict[str, Any]]]:
        pollers = Pollers(two_servers, second, keys["ingest"], "other", 20)
        try:
            pollers.start([])
            await pollers.held()
            started = await asyncio.to_thread(
                requests.post,
                f"{first}/api/v1/projects/shop/traces",
                json={"duration_minutes": 15},
                auth=keys["full"],
                timeout=30,
            )
            return started.json()["id"], await pollers.replies(timeout=20)
        finally:
            pollers.close()

    trace_id, replies = asyncio.run(scenario())
    assert all([item["trace_id"] for item in reply["activated_traces"]] == [trace_id] for reply in replies)

    deadline = time.monotonic() + 10
    while (reach := trace_reach(first, keys["full"], trace_id))["reached"] < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reach["change"] == "start"
    assert reach["reached"] == 20
    assert reach["daemons"] >= 20


def trace_reach(url: str, key: tuple[str, str], trace_id: str) -> dict[str, Any]:
    reach: dict[str, Any] = requests.get(f"{url}/api/v1/projects/shop/traces/{trace_id}", auth=key, timeout=30).json()[
        "reach"
    ]
    return reach


@pytest.fixture
def own_redis() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A Redis server of this test's own, on a free port; the test may stop it and start another on that port."""
    port = free_port()
    servers = [start_redis(port)]
    yield port, servers
    for server in servers:
        server.terminate()
        server.wait()


def start_redis(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return server
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)


def test_with_redis_down_polls_read_the_database_and_heartbeats_answer(
    own_redis: tuple[int, list[subprocess.Popen[bytes]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, servers = own_redis
    monkeypatch.setenv("STACK_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    with production_stack(worker=False, beat=False) as stack:
        keys = project_with_keys(stack)

        def api(method: str, path: str, key: str = "full", **kwargs: Any) -> requests.Response:
            return requests.request(method, f"{stack.url}/api/v1{path}", auth=keys[key], timeout=30, **kwargs)

        async def outage() -> tuple[list[dict[str, Any]], requests.Response, requests.Response, str]:
            pollers = Pollers(stack, stack.url, keys["ingest"], "outage", 5)
            try:
                pollers.start([])
                await pollers.held()
                servers[0].terminate()  # Redis goes away while the polls are held
                servers[0].wait()
                heartbeat = await asyncio.to_thread(
                    api, "POST", "/daemon/heartbeat", "ingest", json={"daemon_name": "hb", "projects": ["shop"]}
                )
                stale = await asyncio.to_thread(
                    api,
                    "POST",
                    "/projects/shop/daemon",
                    "ingest",
                    json={"daemon_name": "new", "active_trace_ids": ["trc_x"]},
                )
                started = await asyncio.to_thread(api, "POST", "/projects/shop/traces", json={"duration_minutes": 15})
                return await pollers.replies(timeout=20), heartbeat, stale, started.json()["id"]
            finally:
                pollers.close()

        replies, heartbeat, stale, trace_id = asyncio.run(outage())
        assert heartbeat.status_code == 200
        assert stale.status_code == 200
        assert stale.json()["deactivated_traces"] == ["trc_x"]
        # Not a timeout (that replies with empty arrays): the held polls read the start from the database.
        assert all([item["trace_id"] for item in reply["activated_traces"]] == [trace_id] for reply in replies)

        servers.append(start_redis(port))

        async def back() -> list[dict[str, Any]]:
            pollers = Pollers(stack, stack.url, keys["ingest"], "back", 5)
            try:
                pollers.start([trace_id])
                await pollers.held(since=time.time())
                stopped = await asyncio.to_thread(api, "POST", f"/projects/shop/traces/{trace_id}/stop")
                assert stopped.status_code == 200
                return await pollers.replies(timeout=20)
            finally:
                pollers.close()

        assert all(reply["deactivated_traces"] == [trace_id] for reply in asyncio.run(back()))
