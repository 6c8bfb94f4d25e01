"""How fast Pawprint turns witnesses into an API model, and how much memory it takes.

    python -m bench.build_throughput [--witnesses 200000] [--stored 100000] [--rss-witnesses 1000000]

(a) `ModelBuilder.add` on one core, over witnesses of a synthetic 200-endpoint API (only
    `add` is timed; the traffic and `witness_from_entry` are not), then the size of the
    builder's state and the time to dump and load it (`apimodel.state`);
(b) `apimodels.services.model_build` end to end (read the stored `WitnessBatch` rows, build,
    write the endpoint rows) on a throwaway database: a SQLite file in a temporary folder,
    or a `pawprint_bench_<pid>` database next to the one `DATABASE_URL` names (PostgreSQL);
(c) peak RSS of a fresh process streaming 1,000,000 witnesses through `ModelBuilder`.
"""

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

from apimodel import ModelBuilder, witness_from_entry
from apimodel.state import dump_builder, load_builder
from bench import synthetic_api

CHUNK = 2000
# processes making traffic (not timed); the measured work runs in the main process, pinned to one core
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
ADD_TARGET = 20_000  # witnesses/s on one core
BUILD_TARGET = 20_000  # entries/s
RSS_TARGET_MB = 500


def batched(items: Any, size: int) -> Iterator[list[Any]]:
    """`items` in lists of `size` (itertools.batched arrives in Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def witness_chunk(args: tuple[int, int, int, int]) -> list[dict[str, Any]]:
    """The witnesses of traffic chunk `index` (each chunk its own stream of calls, so workers agree)."""
    index, size, endpoint_count, seed = args
    return [
        witness_from_entry(entry)
        for entry in synthetic_api.traffic(size, endpoint_count=endpoint_count, seed=seed, stream=index)
    ]


def witness_chunks(pool: Any, count: int, endpoint_count: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """Chunks of witnesses, made by the pool while the caller waits (so nothing runs during timing)."""
    sizes = [(i, min(CHUNK, count - i * CHUNK), endpoint_count, seed) for i in range((count + CHUNK - 1) // CHUNK)]
    for group in batched(sizes, WORKERS):
        yield from pool.map(witness_chunk, group)


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def measure_add(pool: Any, count: int, endpoint_count: int, seed: int) -> dict[str, Any]:
    builder = ModelBuilder()
    elapsed = 0.0
    for chunk in witness_chunks(pool, count, endpoint_count, seed):
        started = time.perf_counter()
        for witness in chunk:
            builder.add(witness)
        elapsed += time.perf_counter() - started
    started = time.perf_counter()
    model = builder.result()
    result_seconds = time.perf_counter() - started
    started = time.perf_counter()
    state = dump_builder(builder)
    dump_seconds = time.perf_counter() - started
    started = time.perf_counter()
    load_builder(state)
    load_seconds = time.perf_counter() - started
    return {
        "witnesses": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "result_seconds": result_seconds,
        "endpoints": len(model["endpoints"]),
        "state_bytes": len(state),
        "dump_seconds": dump_seconds,
        "load_seconds": load_seconds,
    }


def _throwaway_database() -> str:
    """Point Django at a database of its own and return the settings name to restore."""
    from django.db import connection

    if connection.vendor != "sqlite":
        connection.settings_dict["TEST"]["NAME"] = f"pawprint_bench_{os.getpid()}"
    return connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def _warm_up(user: Any, witnesses: list[dict[str, Any]]) -> None:
    """Build a small model in a project of its own first, so that the timed build does not pay for
    what a running worker has done once and for all (Celery's app set-up, the broker connection)."""
    from django.utils import timezone

    from apimodels.models import ModelVersion
    from apimodels.services import model_build
    from projects.services import project_create
    from traces.models import Trace, WitnessBatch

    project = project_create(owner=user, name="bench-warm-up")
    now = timezone.now()
    trace = Trace.objects.create(project=project, name="warm-up", started_at=now, ends_at=now + dt.timedelta(hours=1))
    WitnessBatch.of(witnesses, trace=trace, batch_id="warm-up").save()
    model_build(model_id=ModelVersion.objects.create(project=project, trace=trace, version=1).pk, task_id="bench")


def measure_model_build(pool: Any, count: int, endpoint_count: int, seed: int) -> dict[str, Any]:
    """Store `count` witnesses as daemon-sized batches, then time `model_build` end to end."""
    from django.db import connection, transaction
    from django.utils import timezone

    from apimodels.models import ModelEndpoint, ModelVersion
    from apimodels.services import BUILD_CHUNK, model_build
    from projects.models import User
    from projects.services import project_create
    from traces.models import Trace, WitnessBatch, witnesses_unpack

    old_name = _throwaway_database()
    try:
        now = timezone.now()
        user = User.objects.create_user(username="bench", password=None)
        project = project_create(owner=user, name="bench")
        trace = Trace.objects.create(
            project=project, name="bench-trace", started_at=now, ends_at=now + dt.timedelta(hours=1)
        )
        stored = 0
        for chunk in witness_chunks(pool, count, endpoint_count, seed):
            with transaction.atomic():
                WitnessBatch.objects.bulk_create(
                    WitnessBatch.of(batch, trace=trace, batch_id=f"b{stored + i}")
                    for i, batch in enumerate(batched(chunk, 200))
                )
            if not stored:
                _warm_up(user, chunk[:200])
            stored += len(chunk)
        started = time.perf_counter()
        payloads = WitnessBatch.objects.order_by("pk").values_list("payload", flat=True)
        read = sum(len(witnesses_unpack(payload)) for payload in payloads.iterator(chunk_size=BUILD_CHUNK))
        read_seconds = time.perf_counter() - started
        version = ModelVersion.objects.create(project=project, trace=trace, version=1)
        started = time.perf_counter()
        model_build(model_id=version.pk, task_id="bench")
        elapsed = time.perf_counter() - started
        version.refresh_from_db()
        if version.status != ModelVersion.BuildStatus.READY:
            raise RuntimeError(f"the build failed: {version.error}")
        return {
            "witnesses": stored,
            "seconds": elapsed,
            "per_second": stored / elapsed,
            "read_seconds": read_seconds,
            "read_per_second": read / read_seconds,
            "endpoints": ModelEndpoint.objects.filter(model_version=version).count(),
            "database": connection.vendor,
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def streamed_witnesses(count: int, endpoint_count: int, seed: int) -> Iterator[dict[str, Any]]:
    """`count` witnesses, lazily: real witnesses of a few calls per endpoint, re-issued with fresh ids and times.

    `witness_from_entry` runs at a few thousand entries/s, so a million of them would take
    minutes; fresh path ids (what makes the path trie grow) and timestamps keep the stream
    as varied as real traffic where it matters for memory.
    """
    import random

    routes = synthetic_api.endpoints(endpoint_count, seed)
    rng = random.Random(seed + 2)
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    shapes = [[witness_from_entry(synthetic_api.entry(route, rng, start)) for _ in range(8)] for route in routes]
    for index in range(count):
        route = index % len(routes)
        witness = dict(rng.choice(shapes[route]))
        witness["path"] = "/" + "/".join(
            synthetic_api.fresh_id(s, rng) if s.startswith("{") else s for s in routes[route].segments
        )
        witness["started_at"] = (start + dt.timedelta(milliseconds=index)).isoformat()
        witness["time_ms"] = round(rng.lognormvariate(3, 0.6), 3)
        yield witness


def peak_rss_mb() -> tuple[float, float | None]:
    """(`ru_maxrss`, `VmHWM` from /proc) in MB; Linux carries `ru_maxrss` over `exec` from the parent."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/status") as status:
            hwm = next(float(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return maxrss, None
    return maxrss, hwm


def measure_rss(count: int, endpoint_count: int, seed: int) -> dict[str, Any]:
    """Peak RSS of this (fresh) process while streaming `count` witnesses into one builder."""
    before, _ = peak_rss_mb()
    builder = ModelBuilder()
    started = time.perf_counter()
    for witness in streamed_witnesses(count, endpoint_count, seed):
        builder.add(witness)
    model = builder.result()
    peak, hwm = peak_rss_mb()
    return {
        "witnesses": count,
        "baseline_mb": before,
        "peak_mb": peak,
        "vm_hwm_mb": hwm,
        "seconds": time.perf_counter() - started,
        "endpoints": len(model["endpoints"]),
    }


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
        "load": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def run_rss_child(args: argparse.Namespace) -> dict[str, Any]:
    """Measure RSS in a fresh process, so the other measurements' memory does not count."""
    sizes = ["--rss-witnesses", str(args.rss_witnesses), "--endpoints", str(args.endpoints), "--seed", str(args.seed)]
    command = [sys.executable, "-m", "bench.build_throughput", "--rss-child", *sizes]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    return dict(json.loads(output))


def row(name: str, value: str, target: str, ok: bool) -> str:
    return f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |"


def report(info: dict[str, str], results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"Machine: {info['nproc']} cores (nproc), {info['cpu']}, Python {info['python']}, {info['date']}, "
        f"load average {info['load']} at the end",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
    ]
    if "add" in results:
        r = results["add"]
        lines.append(
            row(
                f"`ModelBuilder.add`, 1 core, {r['witnesses']:,} witnesses → {r['endpoints']} endpoints",
                f"{r['per_second']:,.0f} witnesses/s",
                f"≥ {ADD_TARGET:,}/s",
                r["per_second"] >= ADD_TARGET,
            )
        )
        lines.append(
            f"| builder state of those {r['endpoints']} endpoints (`state.dump_builder` / `load_builder`) | "
            f"{r['state_bytes'] / 1024:,.0f} KB, dumped in {r['dump_seconds'] * 1000:,.0f} ms, "
            f"loaded in {r['load_seconds'] * 1000:,.0f} ms | — | — |"
        )
    if "build" in results:
        r = results["build"]
        lines.append(
            row(
                f"`model_build` end to end ({r['database']}), {r['witnesses']:,} stored witnesses",
                f"{r['per_second']:,.0f} entries/s ({r['seconds']:.1f} s; reading the rows alone "
                f"{r['read_per_second']:,.0f}/s)",
                f"≥ {BUILD_TARGET:,}/s",
                r["per_second"] >= BUILD_TARGET,
            )
        )
    if "rss" in results:
        r = results["rss"]
        lines.append(
            row(
                f"peak RSS, {r['witnesses']:,} witnesses streamed through `ModelBuilder`",
                f"{r['peak_mb']:,.0f} MB (at start {r['baseline_mb']:,.0f} MB; VmHWM {r['vm_hwm_mb'] or 0:,.0f} MB)",
                f"< {RSS_TARGET_MB} MB",
                r["peak_mb"] < RSS_TARGET_MB,
            )
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--witnesses", type=int, default=200_000, help="witnesses for (a), default 200000")
    parser.add_argument("--stored", type=int, default=100_000, help="stored witnesses for (b), default 100000")
    parser.add_argument("--rss-witnesses", type=int, default=1_000_000, help="witnesses for (c), default 1000000")
    parser.add_argument("--endpoints", type=int, default=200, help="endpoints of the synthetic API, default 200")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", action="append", choices=["add", "build", "rss"], default=[], help="skip a measure")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_child:
        print(json.dumps(measure_rss(args.rss_witnesses, args.endpoints, args.seed)))
        return 0
    results: dict[str, dict[str, Any]] = {}
    if "rss" not in args.skip:  # first, while this process (whose peak the child inherits) is small
        print(f"(c) peak RSS over {args.rss_witnesses:,} streamed witnesses ...", file=sys.stderr)
        results["rss"] = run_rss_child(args)
    with tempfile.TemporaryDirectory(prefix="pawprint-bench-") as var_dir:
        # Django's files (and a SQLite database) go to a temporary folder, never the user's var/.
        os.environ["PAWPRINT_VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
        with multiprocessing.Pool(WORKERS) as pool:
            pin_to_one_core()  # the pool's workers keep every core for making traffic
            # The build goes first: after (a) the process's heap is large and fragmented, which a worker's
            # build does not suffer, and it measured ~25% slower there.
            if "build" not in args.skip:
                import django

                django.setup()
                print(f"(b) model_build over {args.stored:,} stored witnesses ...", file=sys.stderr)
                results["build"] = measure_model_build(pool, args.stored, args.endpoints, args.seed)
            if "add" not in args.skip:
                print(f"(a) ModelBuilder.add over {args.witnesses:,} witnesses ...", file=sys.stderr)
                results["add"] = measure_add(pool, args.witnesses, args.endpoints, args.seed)
    print(report(machine(), results))
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
