"""Console pages and API reads at scale: a 10,200-endpoint model, 1,000 traces, 1,000 daemons.

    .venv/bin/python -m bench.scale_pages                 # = one line of `make bench-scale`
    .venv/bin/python -m bench.scale_pages --runs 9 --endpoints 20000

Starts the production-like stack (bench/stack.py) on a new database, fills it through the ORM (bulk inserts,
no builds: the endpoints are copies of the 200 that `bench/synthetic_api.py` traffic builds into, under 51
service prefixes on 3 hosts), then times each page and API read over loopback with a logged-in session or a
full-scope key: the median of `--runs` requests after one warm-up. Prints a Markdown table.
"""

import argparse
import copy
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

import requests

from apimodel.model_types import Endpoint
from bench.build_throughput import machine
from bench.stack import Stack, production_stack

GOAL_MS = 150


@dataclass
class Fixture:
    """What the timed URLs need: the project, the wide trace and an endpoint of its model, credentials."""

    project: str
    trace: str
    trace_id: str
    model: str
    endpoint: str
    session: str
    key: tuple[str, str]


def sample_endpoints() -> list[Endpoint]:
    """The 200 endpoints of the synthetic API as the builder makes them (schemas, auth, latency, statuses)."""
    from apimodel import ModelBuilder, witness_from_entry
    from bench.synthetic_api import traffic

    builder = ModelBuilder()
    for entry in traffic(6000):
        builder.add(witness_from_entry(entry))
    return builder.result()["endpoints"]


def wide_endpoints(sample: list[Endpoint], count: int) -> list[Endpoint]:
    """`count` endpoints: the sample again and again under `/svcNN` prefixes, spread over three hosts."""
    endpoints = []
    for index in range(count):
        copy_number, position = divmod(index, len(sample))
        endpoint = sample[position].copy()
        endpoint["host"] = f"api{copy_number % 3}.scale.test"
        endpoint["path"] = f"/svc{copy_number:02d}{endpoint['path']}"
        endpoints.append(endpoint)
    return endpoints


def changed(endpoints: list[Endpoint]) -> list[Endpoint]:
    """The project model beside the wide trace's: 100 endpoints gone, 100 new, 50 with a new status code."""
    head = [copy.deepcopy(endpoint) if index % 200 == 7 else endpoint for index, endpoint in enumerate(endpoints)]
    for endpoint in head[7::200]:
        endpoint["responses"] = {**endpoint["responses"], "503": {"count": 1, "content": {}}}
    added = [endpoint.copy() for endpoint in head[:100]]
    for endpoint in added:
        endpoint["path"] += "/v2"
    return head[100:] + added


def populate(*, endpoints: int, traces: int, daemons: int) -> Fixture:
    """Fill the (migrated, empty) database Django is set up on; returns what the timed URLs need."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apimodels.models import ModelEndpoint, ModelVersion
    from daemons.models import Daemon, MiddlewareClient
    from projects.models import User
    from projects.services import api_key_create, project_create
    from traces.models import Trace

    now = timezone.now()
    alice = User.objects.create_user(username="alice", password=secrets.token_hex(8))
    project = project_create(owner=alice, name="scale")
    rows = [
        Trace(
            project=project,
            name=f"scale-trace-{index:04d}",
            source=Trace.Source.HAR,
            created_by=alice,
            started_at=now - timedelta(minutes=30 * (index + 1)),
            ends_at=now - timedelta(minutes=30 * index + 1),
            witness_count=6000,
            final_build_queued_at=now,  # beat leaves these traces alone
        )
        for index in range(traces)
    ]
    Trace.objects.bulk_create(rows, batch_size=1000)
    made = list(Trace.objects.filter(project=project).order_by("-started_at"))
    built = {"status": ModelVersion.BuildStatus.READY, "version": 1, "processed": 6000, "total": 6000}
    versions = [
        ModelVersion(project=project, trace=trace, witness_count=6000, finished_at=now, **built) for trace in made
    ]
    versions.append(ModelVersion(project=project, trace=None, witness_count=6000, finished_at=now, **built))
    ModelVersion.objects.bulk_create(versions, batch_size=1000)
    wide, merged = versions[0], versions[-1]
    sample = sample_endpoints()
    many = wide_endpoints(sample, endpoints)
    contents = [(wide, many), (merged, changed(many))]
    contents += [(version, sample[:5]) for version in versions[1:-1]]
    for version, documents in contents:
        ModelEndpoint.objects.bulk_create(
            (ModelEndpoint.of(version.pk, document) for document in documents), batch_size=2000
        )
    Daemon.objects.bulk_create(
        Daemon(
            project=project,
            name=f"daemon-{index:04d}",
            version="0.1",
            first_seen_at=now - timedelta(hours=1),
            last_heartbeat_at=now - timedelta(seconds=index % 120),
        )
        for index in range(daemons)
    )
    MiddlewareClient.objects.bulk_create(
        MiddlewareClient(daemon=daemon, client_name=f"shop-{daemon.name}", last_seen_at=now)
        for daemon in Daemon.objects.filter(project=project)
    )
    with connection.cursor() as cursor:
        # what autovacuum does within a minute of such inserts: the statistics, and the visibility map that lets
        # the endpoints' index-only scans (the diff's shapes, the page counts) skip the table
        cursor.execute("VACUUM ANALYZE")
    client = Client()
    client.force_login(alice)
    key, secret = api_key_create(user=alice, scope="full")
    endpoint = ModelEndpoint.objects.filter(model_version=wide).order_by("-count").first()
    assert endpoint is not None
    return Fixture(
        project=project.public_id,
        trace=made[0].name,
        trace_id=made[0].public_id,
        model=wide.public_id,
        endpoint=endpoint.public_id,
        session=client.cookies[settings.SESSION_COOKIE_NAME].value,
        key=(key.public_id, secret),
    )


def reads(fixture: Fixture) -> list[tuple[str, str, bool]]:
    """(what, URL path, through the API) of every timed read."""
    project = f"/projects/{fixture.project}"
    api = f"/api/v1/projects/{fixture.project}"
    trace = f"{project}/traces/{fixture.trace}/"
    return [
        ("console trace page (endpoints table)", trace, False),
        ("console trace page, filtered (GET, 5xx)", f"{trace}?method=GET&status=503", False),
        ("console trace page, sorted by p99, page 20", f"{trace}?sort=p99&page=20", False),
        ("console trace page, grouped by path prefix", f"{trace}?group=prefix", False),
        ("console project model page", f"{project}/model/", False),
        ("console project overview", f"{project}/", False),
        ("console endpoint detail", f"{project}/models/{fixture.model}/endpoints/{fixture.endpoint}/", False),
        ("console diff page (10,000 vs 10,000)", f"{project}/diff/?base={fixture.trace_id}&head=project", False),
        ("console traces list (1,000 traces)", f"{project}/traces/", False),
        ("console traces list, page 20", f"{project}/traces/?page=20", False),
        ("console daemons list (1,000 daemons)", f"{project}/daemons/", False),
        ("api traces list (pages of 100)", f"{api}/traces", True),
        ("api traces list, page 10", f"{api}/traces?page=10", True),
        ("api daemons list (pages of 100)", f"{api}/daemons", True),
        ("api trace (one)", f"{api}/traces/{fixture.trace_id}", True),
    ]


def time_reads(stack: Stack, fixture: Fixture, runs: int) -> list[tuple[str, float, int, int]]:
    """(what, median ms, response bytes, status) of each read; a failing read is timed and reported too."""
    console = requests.Session()
    console.cookies.set("sessionid", fixture.session)
    api = requests.Session()
    api.auth = fixture.key
    results = []
    for name, path, through_api in reads(fixture):
        session = api if through_api else console
        url = stack.url + path
        session.get(url, timeout=300)  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = session.get(url, timeout=300)
            times.append(1000 * (time.perf_counter() - started))
        results.append((name, statistics.median(times), len(response.content), response.status_code))
    return results


def report(results: list[tuple[str, float, int, int]], args: argparse.Namespace) -> str:
    info = machine()
    lines = [
        f"Pages at {args.endpoints:,} endpoints, {args.traces:,} traces, {args.daemons:,} daemons "
        f"(median of {args.runs} after a warm-up; {info['nproc']} cores, {info['cpu']}, Python {info['python']}, "
        f"{info['date']}, load {info['load']})",
        "",
        f"| read | median | size | < {GOAL_MS} ms |",
        "|---|---|---|---|",
    ]
    for name, ms, size, status in results:
        met = "yes" if ms < GOAL_MS and status == 200 else "NO" if status == 200 else f"NO (HTTP {status})"
        lines.append(f"| {name} | {ms:,.0f} ms | {size / 1024:,.0f} KB | {met} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=10_200)
    parser.add_argument("--traces", type=int, default=1_000)
    parser.add_argument("--daemons", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with production_stack() as stack:
        # this process writes the fixture through the ORM, on the stack's own database
        os.environ.update({name: stack.env[name] for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
        os.environ["PAWPRINT_EMBEDDED"] = "0"
        os.environ["PAWPRINT_VAR_DIR"] = str(stack.var_dir)
        import django

        django.setup()
        started = time.perf_counter()
        fixture = populate(endpoints=args.endpoints, traces=args.traces, daemons=args.daemons)
        print(f"fixture written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        print(report(time_reads(stack, fixture, args.runs), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
