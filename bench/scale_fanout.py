"""Start → activation at fleet scale: N daemons long-poll the production stack, a user starts a trace.

    python -m bench.scale_fanout                       # 500, 1,000 and 2,000 daemons, 3 runs each
    python -m bench.scale_fanout --daemons 2000 --runs 1

Each run: N daemons (one keep-alive connection each, like the agent) poll `/projects/shop/daemon` with no
active trace until every one is held (each poll touched its daemon row), then `POST …/traces` starts a trace.
A daemon's latency is from just before that request is sent to its poll's reply naming the trace; it then
re-polls at once with the trace, as the agent does. Then the trace is stopped and the daemons learn that too.
Connection errors and non-200 replies are counted. Web CPU: the web workers' CPU seconds from the start request
until every daemon polls again with the trace (the start, its replies and the re-poll storm). The stack
(bench/stack.py) runs without Celery (nothing here queues a task) so that its CPU goes to the web tier; the client
is one uvloop process on the same machine.
"""

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
import uvloop

from bench.scale_ingest import web_cpu_seconds
from bench.stack import Stack, production_stack

PROJECT = "shop"
HELD_TIMEOUT = 300.0
LEARN_TIMEOUT = 30.0


class HttpError(Exception):
    """A reply other than 200."""


class Connection:
    """One keep-alive HTTP/1.1 connection: a daemon's, speaking just enough HTTP for JSON POSTs."""

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self.host, self.port, self.authorization = host, port, authorization
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        data = json.dumps(body).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {self.authorization}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
        content = await reader.readexactly(int(headers.get("content-length", 0)))
        status = int(head[0].split()[1])
        if status != 200:
            raise HttpError(f"{status} {content[:200]!r}")
        reply: dict[str, Any] = json.loads(content)
        return reply

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


@dataclass
class Fleet:
    """N daemons long-polling, and when each learnt the trace it waits for."""

    connections: list[Connection]
    round_name: str
    path: str
    # (trace id, "activated" or "deactivated") → daemon → when its poll's reply said so
    learnt: dict[tuple[str, str], dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    errors: list[str] = field(default_factory=list)

    async def daemon(self, index: int) -> None:
        connection = self.connections[index]
        known: list[str] = []
        while True:
            try:
                reply = await connection.post(
                    self.path, {"daemon_name": f"{self.round_name}-{index}", "active_trace_ids": known}
                )
            except (OSError, asyncio.IncompleteReadError, HttpError) as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection.streams = None
                await asyncio.sleep(1)
                continue
            now = time.monotonic()
            activated = [trace["trace_id"] for trace in reply["activated_traces"]]
            for trace_id in activated:
                self.learnt[trace_id, "activated"].setdefault(index, now)
            for trace_id in reply["deactivated_traces"]:
                self.learnt[trace_id, "deactivated"].setdefault(index, now)
            known = sorted((set(known) - set(reply["deactivated_traces"])) | set(activated))

    async def latencies(self, trace_id: str, change: str, since: float) -> list[float]:
        """Seconds from `since` until each daemon learnt the change, once all have."""
        learnt = self.learnt[trace_id, change]
        what = f"every daemon {change} {trace_id} (learnt: {len(learnt)}, errors: {len(self.errors)} {self.errors[:1]})"
        await _until(lambda: len(learnt) == len(self.connections), LEARN_TIMEOUT, what)
        return [at - since for at in learnt.values()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _held_daemons(database_url: str, round_name: str, since: float = 0.0) -> int:
    """Daemons of this round whose poll touched them after `since` (epoch seconds)."""
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM daemons_daemon WHERE name LIKE %s AND extract(epoch FROM last_heartbeat_at) > %s",
            (f"{round_name}-%", since),
        )
        (count,) = cursor.fetchone() or (0,)
        return int(count)


async def _timed(request: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = await asyncio.to_thread(request)
    return response, time.monotonic() - started


async def _until(condition: Callable[[], Awaitable[bool] | bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def one_run(
    stack: Stack, full_key: tuple[str, str], ingest_key: tuple[str, str], daemons: int, run: int
) -> dict[str, Any]:
    parts = urlsplit(stack.url)
    authorization = "Basic " + base64.b64encode(":".join(ingest_key).encode()).decode()
    fleet = Fleet(
        connections=[Connection(parts.hostname or "", parts.port or 80, authorization) for _ in range(daemons)],
        round_name=f"n{daemons}r{run}",
        path=f"/api/v1/projects/{PROJECT}/daemon",
    )
    tasks = [asyncio.create_task(fleet.daemon(index)) for index in range(daemons)]
    try:
        count = lambda: asyncio.to_thread(_held_daemons, stack.env["DATABASE_URL"], fleet.round_name)  # noqa: E731
        await _until(lambda: _wait_count(count, daemons), HELD_TIMEOUT, f"{daemons} polls to be held")
        await asyncio.sleep(1)  # the last ones past their touch are subscribed a moment later
        errors_before_start = len(fleet.errors)

        session = requests.Session()
        session.auth = full_key
        cpu = web_cpu_seconds(stack)
        started = time.monotonic()
        response, start_seconds = await _timed(
            lambda: session.post(
                f"{stack.url}/api/v1/projects/{PROJECT}/traces", json={"duration_minutes": 15}, timeout=60
            )
        )
        response.raise_for_status()
        trace_id = response.json()["id"]
        start_latencies = await fleet.latencies(trace_id, "activated", started)
        # The stop comes once every daemon polls again with the trace (a user does not stop within a second).
        since = time.time()
        held = lambda: asyncio.to_thread(_held_daemons, stack.env["DATABASE_URL"], fleet.round_name, since)  # noqa: E731
        await _until(lambda: _wait_count(held, daemons), HELD_TIMEOUT, f"{daemons} polls to be held again")
        start_cpu = web_cpu_seconds(stack) - cpu
        await asyncio.sleep(1)

        stopped = time.monotonic()
        response, stop_seconds = await _timed(
            lambda: session.post(f"{stack.url}/api/v1/projects/{PROJECT}/traces/{trace_id}/stop", timeout=60)
        )
        response.raise_for_status()
        stop_latencies = await fleet.latencies(trace_id, "deactivated", stopped)
        return {
            "daemons": daemons,
            "start_p50": statistics.median(start_latencies),
            "start_p99": _percentile(start_latencies, 0.99),
            "start_request": start_seconds,
            "start_web_cpu": start_cpu,
            "stop_p99": _percentile(stop_latencies, 0.99),
            "stop_request": stop_seconds,
            "errors": len(fleet.errors),
            "errors_while_holding": errors_before_start,
            "first_error": fleet.errors[0] if fleet.errors else "",
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in fleet.connections:
            connection.close()


async def _wait_count(count: Callable[[], Awaitable[int]], target: int) -> bool:
    return await count() >= target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--daemons", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # One user's whole fleet polls here; the per-user poll rate is not what this measures.
    os.environ.setdefault("POLL_RATE", "1000000/min")
    with production_stack(worker=False, beat=False) as stack:
        full_key = stack.api_key("bench")
        ingest_key = stack.api_key("bench", scope="ingest")
        requests.post(
            f"{stack.url}/api/v1/projects", json={"name": PROJECT}, auth=full_key, timeout=30
        ).raise_for_status()
        rows = []
        for daemons in args.daemons:
            runs = [uvloop.run(one_run(stack, full_key, ingest_key, daemons, run)) for run in range(args.runs)]
            for result in runs:
                print(json.dumps(result), flush=True)
            rows.append({name: statistics.median(r[name] for r in runs) for name in runs[0] if name != "first_error"})
    print(
        f"\nStart → activation, median of {args.runs} runs ({platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'daemons':>8} {'p50 s':>7} {'p99 s':>7} {'start req s':>12} {'web CPU s':>10} {'stop p99 s':>11}"
        f" {'stop req s':>11} {'errors':>7}"
    )
    for row in rows:
        print(
            f"{row['daemons']:>8} {row['start_p50']:>7.3f} {row['start_p99']:>7.3f} {row['start_request']:>12.3f} "
            f"{row['start_web_cpu']:>10.2f} {row['stop_p99']:>11.3f} {row['stop_request']:>11.3f} {row['errors']:>7.0f}"
        )


if __name__ == "__main__":
    main()
