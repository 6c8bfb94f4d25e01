"""Exports of a large model on the production-like stack: API model JSON, OpenAPI JSON and OpenAPI YAML.

    python -m bench.scale_exports [--services 21] [--runs 5]

Builds its own fixture: a HAR file of the synthetic API (bench/synthetic_api.py) served under `--services`
invented prefixes (/atlas/v2/quasars/…), 486 routes each (10,206 endpoints by default), uploaded to a fresh
stack (bench/stack.py: gunicorn + uvicorn workers, Celery, PostgreSQL, Redis) and built by its worker. Then
each export is fetched `--runs` times over loopback, by a client that accepts gzip (as browsers and `requests` do;
the time includes decompressing) and by one that does not; the median of the time to the last byte is printed,
and the build's time from the upload's answer to a ready model (the build also writes the exports).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import synthetic_api
from bench.stack import production_stack

SERVICES = [
    "atlas", "bramble", "cinder", "dapple", "ember", "fjord", "gossamer", "hollow", "isle", "juniper", "kestrel",
    "lumen", "mosaic", "nimbus", "opal", "pebble", "quarry", "rune", "saffron", "thistle", "umber", "vesper",
]  # fmt: skip
ROUTES_PER_SERVICE = 486
GOALS_MS = {"API model JSON": 500, "OpenAPI JSON": 500, "OpenAPI YAML": 1000}


def fleet_entries(services: int, routes: int = ROUTES_PER_SERVICE, calls: int = 1, seed: int = 7) -> Iterator[Any]:
    """HAR entries of `services` copies of the synthetic API under distinct path prefixes, `calls` per route."""
    rng = random.Random(seed)
    started = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    host = f"{synthetic_api.HOST}/"
    for service in SERVICES[:services]:
        for route in synthetic_api.endpoints(routes, seed):
            for _ in range(calls):
                entry = synthetic_api.entry(route, rng, started)
                entry["request"]["url"] = entry["request"]["url"].replace(host, f"{host}{service}/", 1)
                yield entry


def har_bytes(entries: Iterator[Any]) -> bytes:
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": list(entries)}}).encode()


def upload_har(session: requests.Session, api: str, content: bytes, name: str = "fleet.har") -> dict[str, Any]:
    """Upload a HAR file and return the trace."""
    response = session.post(f"{api}/traces/har", files={"file": (name, content, "application/json")}, timeout=600)
    response.raise_for_status()
    trace: dict[str, Any] = response.json()
    return trace


def wait_ready(session: requests.Session, api: str, trace_id: str, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        build = session.get(f"{api}/traces/{trace_id}", timeout=300).json()["model_build"]
        if build and build["status"] == "ready":
            return dict(build)
        if build and build["status"] == "failed":
            raise RuntimeError(f"the build failed: {build['error']}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no model after {timeout} s: {build}")
        time.sleep(1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children alive now (the gunicorn workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended while we looked
            continue
        for child in children:
            total += cpu_seconds(int(child))
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return total + (int(fields[11]) + int(fields[12])) / ticks


def fetch_ms(session: requests.Session, url: str, encoding: str) -> tuple[float, int]:
    """Milliseconds to the last byte (decompressed), and the bytes sent, asking for this Accept-Encoding."""
    started = time.perf_counter()
    response = session.get(url, headers={"Accept-Encoding": encoding}, timeout=900)
    response.raise_for_status()
    size = int(response.headers.get("Content-Length", len(response.content)))
    return (time.perf_counter() - started) * 1000, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=21, help=f"prefixes, at most {len(SERVICES)}")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    content = har_bytes(fleet_entries(args.services))
    with production_stack() as stack:
        session = requests.Session()
        session.auth = stack.api_key("bench")
        session.post(f"{stack.url}/api/v1/projects", json={"name": "fleet"}, timeout=300).raise_for_status()
        api = f"{stack.url}/api/v1/projects/fleet"
        print(f"uploading {len(content) / 1e6:.1f} MB of HAR and building ...", file=sys.stderr)
        trace = upload_har(session, api, content)
        uploaded = time.monotonic()
        wait_ready(session, api, trace["id"])
        build_s = time.monotonic() - uploaded
        endpoints = len(session.get(f"{api}/traces/{trace['id']}/model", timeout=900).json()["endpoints"])
        exports = {
            "API model JSON": f"{api}/traces/{trace['id']}/model",
            "OpenAPI JSON": f"{api}/traces/{trace['id']}/openapi?format=json",
            "OpenAPI YAML": f"{api}/traces/{trace['id']}/openapi?format=yaml",
        }
        rows = []
        web = stack.processes["web1"].pid
        for what, url in exports.items():
            for encoding in ("gzip", "identity"):
                fetch_ms(session, url, encoding)  # warm-up
                cpu = cpu_seconds(web)
                times, size = zip(*(fetch_ms(session, url, encoding) for _ in range(args.runs)), strict=True)
                cpu_ms = (cpu_seconds(web) - cpu) * 1000 / args.runs
                rows.append((what, encoding, statistics.median(times), min(times), max(times), cpu_ms, size[0]))
    print(
        f"\nExports at {endpoints:,} endpoints; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; median of "
        f"{args.runs} runs after a warm-up, time to the last byte over loopback"
    )
    print(f"upload answered to model ready (the build): {build_s:.1f} s")
    print("(web CPU ms: CPU time of the web processes per request, which the machine's load does not inflate)")
    print("| export | Accept-Encoding | median ms | min, max ms | web CPU ms | bytes sent | goal ms | met |")
    print("|---|---|---|---|---|---|---|---|")
    for what, encoding, median, low, high, cpu_ms, size in rows:
        goal = GOALS_MS[what]
        met = "yes" if median < goal else "no"
        print(
            f"| {what} | {encoding} | {median:.0f} | {low:.0f}, {high:.0f} | {cpu_ms:.0f} | {size:,} "
            f"| < {goal} | {met} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
