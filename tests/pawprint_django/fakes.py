"""An agent that misbehaves on purpose (slow, refusing), to show the middleware never passes that on to the app."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRACE = {
    "trace_name": "brisk-teal-heron-482",
    "trace_id": "trc_brisk",
    "service_id": "shop",
    "filter_third_party_trackers": False,
    "ends_at": "2099-01-01T00:00:00Z",
}


class MisbehavingAgent:
    """One active trace; events answered after `delay` seconds with `status`; every events body recorded."""

    def __init__(self, port: int = 0, *, delay: float = 0.0, status: int = 202) -> None:
        self.delay = delay
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.refused = 0  # events calls answered with another status than 202
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> tuple[int, dict[str, int]]:
        """(entries received, drops reported by reason)."""
        dropped: dict[str, int] = {}
        for body in list(self.bodies):
            for reason, count in body.get("dropped", {}).items():
                dropped[reason] = dropped.get(reason, 0) + count
        return sum(len(body["trace_events"]) for body in list(self.bodies)), dropped

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/middleware"):
                    reply: dict[str, Any] = {"activated_traces": [], "deactivated_traces": []}
                    status = 202
                    if TRACE["trace_id"] not in body["active_trace_ids"]:
                        reply["activated_traces"] = [TRACE]
                    else:
                        time.sleep(0.5)
                else:
                    time.sleep(agent.delay)
                    status, reply = agent.status, {"trace_event_details": {"drops": 0}}
                    if status == 202:
                        agent.bodies.append(body)
                    else:
                        agent.refused += 1
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
