"""A large HAR upload on the production-like stack: time in the request and the web workers' memory.

    python -m bench.scale_har [--megabytes 44] [--runs 3]

Builds its own fixture: a HAR file of about `--megabytes` MB from the synthetic API (bench/scale_exports.py's
prefixed copies of bench/synthetic_api.py), uploaded as a plain multipart file `--runs` times to a fresh stack
(bench/stack.py). Prints the request's time, the growth of the web processes' peak RSS (VmHWM of the gunicorn
workers, which keep their peak), and the time until the trace's model is ready.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import requests

from bench.scale_exports import fleet_entries, har_bytes, upload_har, wait_ready
from bench.stack import production_stack


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS among a process's children (gunicorn's workers), in MB."""
    peaks = [0.0]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=44)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    calls = 1
    content = har_bytes(fleet_entries(21, calls=calls))
    while len(content) < args.megabytes * 1e6:
        calls += 1
        content = har_bytes(fleet_entries(21, calls=calls))
    rows = []
    with production_stack() as stack:
        session = requests.Session()
        session.auth = stack.api_key("bench")
        session.post(f"{stack.url}/api/v1/projects", json={"name": "har"}, timeout=300).raise_for_status()
        api = f"{stack.url}/api/v1/projects/har"
        web = stack.processes["web1"].pid
        for _ in range(args.runs):
            before = peak_rss_mb(web)
            started = time.perf_counter()
            trace = upload_har(session, api, content)
            request_s = time.perf_counter() - started
            grown = peak_rss_mb(web) - before
            wait_ready(session, api, trace["id"])
            ready_s = time.perf_counter() - started
            witnesses = session.get(f"{api}/traces/{trace['id']}", timeout=300).json()["witness_count"]
            rows.append((request_s, grown, ready_s, witnesses))
    print(
        f"\nHAR upload of {len(content) / 1e6:.1f} MB ({rows[0][3]:,} entries); {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; {args.runs} uploads, one after the other"
    )
    print("| upload | request s | web peak RSS growth MB | until model ready s |\n|---|---|---|---|")
    for n, (request_s, grown, ready_s, _) in enumerate(rows, 1):
        print(f"| {n} | {request_s:.1f} | {grown:.0f} | {ready_s:.0f} |")
    print(f"median request {statistics.median(r[0] for r in rows):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
