"""The local capture server: middleware POSTs HAR entries to `/v1/entries` (a list, or one entry)."""

import gzip
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.logs import log_event

MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class CaptureResult:
    """What became of the entries of one capture call."""

    accepted: int
    dropped: int
    invalid: int


class CaptureServer(ThreadingHTTPServer):
    """`POST /v1/entries` → `capture(entries)`; `GET /v1/status` → `status()`. Meant for loopback."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        capture: Callable[[list[Any]], CaptureResult],
        status: Callable[[], dict[str, Any]],
    ) -> None:
        super().__init__(address, _Handler)
        self.capture = capture
        self.status = status

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: CaptureServer
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"error": {"code": code, "message": message}})

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/v1/status":
            self._reply(200, self.server.status())
        else:
            self._error(404, "not_found", "Use POST /v1/entries or GET /v1/status.")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/entries":
            self._error(404, "not_found", "Use POST /v1/entries.")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._error(413, "too_large", f"Send a Content-Length of at most {MAX_BODY_BYTES} bytes.")
            return
        body = self.rfile.read(length)
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            data = json.loads(body)
        except (OSError, EOFError, zlib.error, ValueError) as error:
            self._error(400, "invalid", f"The body is not JSON: {error}")
            return
        entries = data if isinstance(data, list) else [data]
        outcome = self.server.capture(entries)
        self._reply(202, {"accepted": outcome.accepted, "dropped": outcome.dropped, "invalid": outcome.invalid})

    def log_message(self, format: str, *args: Any) -> None:
        log_event(logging.DEBUG, "capture_request", request=format % args)
