"""How many middleware events per second one agent takes and uploads, with how much memory.

    python -m bench.agent_throughput [--seconds 15] [--clients 3] [--max-memory-mb 64]

Three processes besides this one: the agent (`python -m agent`, as users run it), a stand-in control plane
(accepts every heartbeat, poll and witness batch, announces one trace, and does nothing else, so that the
agent is what is measured), and client processes posting events of the demo shop's traffic:

- `pawprint`: like pawprint_django, up to 100 obfuscated entries per call on a keep-alive connection;
- `akita`: akita-django's captured requests, byte for byte (one raw entry per call, the agent obfuscates), each
  on a new connection, sent from a raw socket so that the load generator spends little of the machine's CPU;
- `keep-alive`: one client, one entry per call on one connection, for the reply latency (the Nagle stall);
- `outage`: `pawprint` while the control plane refuses connections: everything goes to the spool, and the
  agent's memory must stay flat.

Reported: events/s the agent answered 202, entries it uploaded (or spooled), the CPU per event of the agent (its
own processes included: obfuscation runs in one, started by a warm-up call before the measurement) and of the
clients, and the peak RSS (`VmHWM`) of the agent and of its other processes.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apimodel.witness import redact_entry

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5_000  # events/s
PATH = "/v1/services/bench/traces/bench-trace/events"
TRACE = {"trace_id": "trc_bench", "trace_name": "bench-trace", "ends_at": "2099-01-01T00:00:00Z", "sampling_rate": 1.0}


def shop_events() -> list[dict[str, Any]]:
    """akita-django's events calls for the demo shop's seven requests (tests/fixtures): method, path, headers, body."""
    capture = json.loads((ROOT / "tests" / "fixtures" / "akita-django-capture.json").read_text())["requests"]
    return [r for r in capture if r["path"].endswith("/events")]


def shop_entries() -> list[dict[str, Any]]:
    """The HAR entries of those calls."""
    return [json.loads(r["body_text"])["trace_events"][0] for r in shop_events()]


def akita_requests(port: int) -> list[bytes]:
    """The captured events calls as bytes, addressed to the bench's trace on this agent."""
    requests = []
    for captured in shop_events():
        head = f"POST {PATH} HTTP/1.1\r\n"
        for name, value in captured["headers"]:
            head += f"{name}: {f'127.0.0.1:{port}' if name == 'Host' else value}\r\n"
        requests.append(head.encode() + b"\r\n" + captured["body_text"].encode())
    return requests


def exchange(request: bytes, port: int) -> int:
    """One call on a new connection, as akita-django makes it; the reply's status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(65536) or b"\r\n\r\n"
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
        while len(body) < length and (more := sock.recv(65536)):
            body += more
        return int(head.split(b" ", 2)[1])


def control_plane(port: int, ready: Any) -> None:
    """The stand-in control plane: answers at once, counts nothing, decompresses nothing."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.endswith("/daemon"):
                known = json.loads(body)["active_trace_ids"]
                if known:
                    time.sleep(5)  # a held poll
                reply: dict[str, Any] = {"activated_traces": [] if known else [TRACE], "deactivated_traces": []}
            elif self.path.endswith("/witnesses"):
                reply = {"accepted": 0, "duplicate": False}
            else:
                reply = {"server_time": "2026-01-01T00:00:00Z", "heartbeat_interval_seconds": 20}
            data = json.dumps(reply).encode()
            self.send_response(202 if self.path.endswith("/witnesses") else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def client(mode: str, port: int, seconds: float, results: Any) -> None:
    """Post events until `seconds` pass; put (events answered 202, per-call latencies in ms, CPU seconds) on
    `results`."""
    if mode == "akita":
        return akita_client(port, seconds, results)
    entries = shop_entries()
    headers = {"content-type": "application/json", "User-Agent": "pawprint-django/bench"}
    if mode in ("pawprint", "outage"):
        batch = [redact_entry(entries[n % len(entries)]) for n in range(100)]
        bodies = [json.dumps({"client_name": "bench", "trace_events": batch, "redacted": True}).encode()]
    else:
        bodies = [json.dumps({"client_name": "bench", "trace_events": [e], "no_more_events": False}).encode()
                  for e in entries]  # fmt: skip
    per_call = len(json.loads(bodies[0])["trace_events"])
    accepted, latencies = 0, []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + seconds
    calls = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("POST", PATH, bodies[calls % len(bodies)], headers)
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status == 202:
            accepted += per_call
        calls += 1
    results.put((accepted, latencies, time.process_time()))


def akita_client(port: int, seconds: float, results: Any) -> None:
    requests = akita_requests(port)
    accepted, latencies = 0, list[float]()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        accepted += exchange(requests[len(latencies) % len(requests)], port) == 202
        latencies.append((time.perf_counter() - started) * 1000)
    results.put((accepted, latencies, time.process_time()))


def agent_status(port: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/v1/status")
    status: dict[str, Any] = json.loads(connection.getresponse().read())
    return status


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes a process started (the agent's obfuscation worker), still running."""
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def warm_up(port: int) -> None:
    """One akita-django call, uploaded: the agent's obfuscation worker is started, and the first call's costs paid."""
    assert exchange(akita_requests(port)[0], port) == 202
    deadline = time.monotonic() + 30
    while not (project := agent_status(port)["projects"][0])["uploaded"] + project["pending"]:
        assert time.monotonic() < deadline, project
        time.sleep(0.1)


@contextmanager
def agent_with_a_trace(*flags: str) -> Iterator[tuple[int, subprocess.Popen[bytes], Any]]:
    """`python -m agent` on a free port, once the stand-in control plane (a process) told it of one trace."""
    context = multiprocessing.get_context("fork")
    cp_port, agent_port = free_port(), free_port()
    ready = context.Event()
    plane = context.Process(target=control_plane, args=(cp_port, ready), daemon=True)
    plane.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory() as spool:
        command = [sys.executable, "-m", "agent", "--url", f"http://127.0.0.1:{cp_port}", "--key", "apk_bench:secret"]
        command += ["--project", "bench", "--listen", f"127.0.0.1:{agent_port}", "--spool-dir", spool, *flags]
        agent = subprocess.Popen([*command, "--log-level", "WARNING"], cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if agent_status(agent_port)["projects"][0]["active_traces"]:
                        break
                except (OSError, IndexError):
                    pass
                assert time.monotonic() < deadline, "the agent did not learn the trace"
                time.sleep(0.1)
            yield agent_port, agent, plane
        finally:
            agent.terminate()
            agent.wait(30)
            if plane.is_alive():
                plane.kill()


def run(mode: str, seconds: float, clients: int, max_memory_mb: int) -> dict[str, Any]:
    """One measurement with a fresh agent and control plane."""
    context = multiprocessing.get_context("fork")
    with agent_with_a_trace("--max-memory-mb", str(max_memory_mb)) as (agent_port, agent, plane):
        if mode == "outage":
            plane.kill()
        warm_up(agent_port)
        workers_pids = children(agent.pid)
        rss_start, cpu_start = peak_rss_mb(agent.pid), cpu_seconds(agent.pid)
        worker_cpu_start = sum(cpu_seconds(pid) for pid in workers_pids)
        results = context.Queue()
        workers = [context.Process(target=client, args=(mode, agent_port, seconds, results))
                   for _ in range(1 if mode == "keep-alive" else clients)]  # fmt: skip
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=seconds + 60) for _ in workers]
        for worker in workers:
            worker.join()
        accepted = sum(n for n, _, _ in outcomes)
        server_cpu = cpu_seconds(agent.pid) - cpu_start
        worker_cpu = sum(cpu_seconds(pid) for pid in workers_pids) - worker_cpu_start
        agent_cpu = server_cpu + worker_cpu
        deadline = time.monotonic() + 120
        while (project := agent_status(agent_port)["projects"][0])["uploaded"] + project["pending"] < accepted + 1:
            assert time.monotonic() < deadline, project
            time.sleep(0.2)
        if mode != "outage":  # the upload catches up
            while agent_status(agent_port)["projects"][0]["pending"] and time.monotonic() < deadline:
                time.sleep(0.2)
        status = agent_status(agent_port)
        latencies = sorted(ms for _, calls, _ in outcomes for ms in calls)
        per_event = 1e6 / max(accepted, 1)
        return {
            "mode": mode,
            "events_per_s": round(accepted / seconds),
            "agent_cpu_per_s": round(agent_cpu / seconds, 2),  # 1.0: one core busy all along
            "agent_cpu_us_per_event": round(agent_cpu * per_event),
            "of_which_obfuscation_worker_us": round(worker_cpu * per_event),
            "clients_cpu_us_per_event": round(sum(cpu for _, _, cpu in outcomes) * per_event),
            "uploaded": status["projects"][0]["uploaded"],
            "spooled": status["projects"][0]["pending"],
            "dropped": status["projects"][0]["dropped"],
            "call_ms_p50": round(statistics.median(latencies), 2),
            "call_ms_p99": round(latencies[int(len(latencies) * 0.99)], 2),
            "rss_mb_at_start": round(rss_start, 1),
            "peak_rss_mb": round(peak_rss_mb(agent.pid), 1),
            "worker_peak_rss_mb": round(sum(peak_rss_mb(pid) for pid in workers_pids), 1),
            "spool_mb": round(status["spool"]["bytes"] / 2**20, 1),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--max-memory-mb", type=int, default=64)
    parser.add_argument("--modes", default="pawprint,akita,keep-alive,outage")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f}; target >= {TARGET:,} events/s")  # fmt: skip
    for mode in args.modes.split(","):
        result = run(mode, args.seconds, args.clients, args.max_memory_mb)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
