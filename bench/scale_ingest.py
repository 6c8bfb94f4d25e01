"""Witness ingest at fleet scale: entries/s through the public witness endpoint on the production-like stack.

    python -m bench.scale_ingest [--seconds 20] [--daemons 1,10,50] [--batch 200] [--forms witnesses,entries]

The stack is `bench.stack` (gunicorn + uvicorn workers as the Procfile runs them, PostgreSQL, Redis). The entries
are real: the HTTP exchanges of ../shared/eval/*/traffic.har (tests/fixtures/*.har when that folder is absent),
obfuscated by `redact_entry`. Each form of upload has its rows: `witnesses`, made from those entries (by
`agent.redact.encode_entry`, as the agent uploads them), which the server checks and stores, and `entries`, the
entries themselves (HAR uploads, older agents), which the server makes into witnesses. Each daemon is a thread
posting gzip batches of `--batch` entries, each with a batch_id of its own, on one keep-alive connection, back to
back; the bodies are made before the clock starts so that the client's own work is a small share of the 2 cores.
The first row of a form, `cold`, is 10 daemons sending each distinct batch once, before the servers have seen any
of it (for entries, the schemas of obfuscated bodies are remembered, see apimodel.witness); the other rows go round
the same ~40 batches. Reported per row:
entries the server answered 202 for per second, entries per CPU second of the web workers (what the machine's
other load does not change), the median and p99 request latency, the load average, and any other answers.
"""

import argparse
import gzip
import http.client
import json
import os
import platform
import statistics
import threading
import time
from base64 import b64encode
from collections import Counter
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from agent.redact import encode_entry
from apimodel.har import har_entries, is_http_exchange
from apimodel.witness import InvalidEntry, redact_entry
from apimodel.witness_form import WITNESS_FORMAT
from bench.stack import ROOT, Stack, production_stack

EVAL_DIR = ROOT.parent / "shared" / "eval"
TARGET = 20_000  # entries/s


def real_entries() -> list[dict[str, Any]]:
    """The redacted HTTP exchanges of the eval recordings (or the test fixtures)."""
    files = sorted(EVAL_DIR.glob("*/traffic.har")) or sorted((ROOT / "tests" / "fixtures").glob("*.har"))
    entries = []
    for path in files:
        for entry in har_entries(path.read_bytes()):
            if not is_http_exchange(entry):
                continue
            try:
                entries.append(redact_entry(entry))
            except InvalidEntry:
                continue
    return entries


# The body's fields before the list, by form.
FIELDS = {"witnesses": f'"witness_format":{WITNESS_FORMAT},"witnesses":', "entries": '"entries":'}


def encoded(form: str, entries: list[dict[str, Any]]) -> list[bytes]:
    """The entries as JSON, or their witnesses as the agent encodes them (`agent.redact.encode_entry`)."""
    if form == "entries":
        return [json.dumps(entry).encode() for entry in entries]
    return [item for entry in entries if isinstance(item := encode_entry(entry, redacted=True), bytes)]


def item_windows(items: list[bytes], size: int) -> list[bytes]:
    """The list part (`[…]}`) of ~40 different batches of `size` encoded items, each compressed once as a gzip
    member: a gzip body may be several members one after the other."""
    return [
        gzip.compress(b"[" + b",".join(islice(cycle(items), start, start + size)) + b"]}", mtime=0)
        for start in range(0, len(items), max(1, len(items) // 40))
    ]


def batch_body(label: str, daemon: int, n: int, window: bytes, fields: str) -> bytes:
    head = f'{{"daemon_name":"bench-{daemon}","batch_id":"{label}-{daemon}-{n}",{fields}'
    return gzip.compress(head.encode(), mtime=0) + window


def batch_bodies(windows: list[bytes], fields: str, *, daemons: int, count: int) -> list[list[bytes]]:
    """`count` gzip batch bodies for each daemon, each with a batch_id of its own, going round the windows."""
    return [
        [batch_body("bench", d, n, windows[(d * 7 + n) % len(windows)], fields) for n in range(count)]
        for d in range(daemons)
    ]


def cold_bodies(windows: list[bytes], fields: str, *, daemons: int) -> list[list[bytes]]:
    """Each window once, shared out among the daemons: what no server has seen yet."""
    return [
        [batch_body("cold", d, w, windows[w], fields) for w in range(d, len(windows), daemons)] for d in range(daemons)
    ]


def upload(url: str, path: str, auth: str, bodies: list[bytes], until: float, out: dict[str, Any]) -> None:
    """Post `bodies` in turn until the clock says stop; answers and latencies go to `out`."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    statuses: Counter[int] = Counter()
    latencies = []
    accepted = 0
    for body in bodies:
        if time.monotonic() >= until:
            break
        start = time.monotonic()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        reply = response.read()
        latencies.append(time.monotonic() - start)
        statuses[response.status] += 1
        if response.status == 202:
            accepted += json.loads(reply)["accepted"]
        elif response.status >= 500:
            print(f"{response.status}: {reply[:300]!r}", flush=True)
    connection.close()
    out.update(statuses=statuses, latencies=latencies, accepted=accepted)


def web_cpu_seconds(stack: Stack) -> float:
    """CPU time (user + system) the web servers' worker processes used so far."""
    ticks = 0
    for process in stack.processes.values():
        for child in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(stack: Stack, path: str, auth: str, bodies: list[list[bytes]], seconds: float) -> dict[str, Any]:
    results: list[dict[str, Any]] = [{} for _ in bodies]
    cpu = web_cpu_seconds(stack)
    start = time.monotonic()
    threads = [
        threading.Thread(target=upload, args=(stack.url, path, auth, own, start + seconds, result))
        for own, result in zip(bodies, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    cpu = web_cpu_seconds(stack) - cpu
    statuses: Counter[int] = sum((r["statuses"] for r in results), Counter())
    latencies = sorted(latency for r in results for latency in r["latencies"])
    accepted = sum(r["accepted"] for r in results)
    return {
        "entries_per_s": accepted / elapsed,
        "entries_per_cpu_s": accepted / cpu,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "statuses": dict(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="per row")
    parser.add_argument("--daemons", default="1,10,50", help="uploading daemons of each row")
    parser.add_argument("--batch", type=int, default=200, help="entries per batch")
    parser.add_argument("--forms", default="witnesses,entries", help="forms of upload (witnesses, entries), in turn")
    args = parser.parse_args()
    fleet = [int(n) for n in args.daemons.split(",")]
    entries = real_entries()
    # Enough bodies that no daemon runs out at twice the target rate.
    per_daemon = {n: int(2 * TARGET * args.seconds / args.batch / n) + 2 for n in fleet}
    print(f"{len(entries)} real entries; making batch bodies…", flush=True)
    with production_stack(worker=False, beat=False) as stack:
        key_id, secret = stack.api_key("bench")
        auth = "Basic " + b64encode(f"{key_id}:{secret}".encode()).decode()
        project = _post(stack, auth, "/api/v1/projects", {"name": "bench"})["name"]
        print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}")
        print(
            f"{'form':>9}  {'daemons':>7}  {'entries/s':>9}  {'per web CPU s':>13}  {'p50 ms':>7}  {'p99 ms':>7}  "
            "load  answers"
        )
        for form in args.forms.split(","):
            fields = FIELDS[form]
            windows = item_windows(encoded(form, entries), args.batch)
            rows = [("cold", cold_bodies(windows, fields, daemons=10), 600.0)] + [
                (str(n), batch_bodies(windows, fields, daemons=n, count=per_daemon[n]), args.seconds) for n in fleet
            ]
            for name, bodies, seconds in rows:
                _row(stack, auth, project, form, name, bodies, seconds)


def _row(
    stack: Stack, auth: str, project: str, form: str, name: str, bodies: list[list[bytes]], seconds: float
) -> None:
    """Measure one row, on a trace of its own, and print it."""
    trace = _post(stack, auth, f"/api/v1/projects/{project}/traces", {"duration_minutes": 60})["id"]
    row = measure(stack, f"/api/v1/projects/{project}/traces/{trace}/witnesses", auth, bodies, seconds)
    print(
        f"{form:>9}  {name:>7}  {row['entries_per_s']:>9,.0f}  {row['entries_per_cpu_s']:>13,.0f}  "
        f"{row['p50_ms']:>7.1f}  {row['p99_ms']:>7.1f}  {os.getloadavg()[0]:>4.1f}  {row['statuses']}",
        flush=True,
    )


def _post(stack: Stack, auth: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request(
        "POST", path, body=json.dumps(data), headers={"Authorization": auth, "Content-Type": "application/json"}
    )
    response = connection.getresponse()
    reply: dict[str, Any] = json.loads(response.read())
    if response.status >= 300:
        raise RuntimeError(f"{path}: {response.status} {reply}")
    return reply


if __name__ == "__main__":
    main()
