"""HTTP client of Pawprint's daemon API (`/api/v1`), on urllib only."""

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from agent import __version__


class ApiError(Exception):
    """The control plane answered with an error status; `message` is its `error.message`."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None, field: str | None = None
    ) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.field = field


class TransportError(Exception):
    """No usable answer: the connection failed, timed out, or the reply was not JSON."""


@dataclass(frozen=True)
class Activation:
    """A trace the daemon should capture, as the long poll announces it."""

    trace_id: str
    trace_name: str
    ends_at: datetime
    sampling_rate: float


@dataclass(frozen=True)
class PollReply:
    """What changed since the daemon's last poll; both lists may be empty (the poll timed out)."""

    activated: list[Activation]
    deactivated: list[str]


@dataclass(frozen=True)
class UploadReply:
    accepted: int
    duplicate: bool


@dataclass(frozen=True)
class MiddlewareClient:
    """A middleware that talked to the agent lately, as the heartbeat reports it."""

    project: str
    client_name: str


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_key(key: str) -> tuple[str, str]:
    """(key id, secret) from `KEY_ID:SECRET`; ValueError if malformed."""
    key_id, sep, secret = key.strip().partition(":")
    if not sep or not key_id or not secret:
        raise ValueError("the API key must look like KEY_ID:SECRET")
    return key_id, secret


def parse_time(value: object) -> datetime:
    """An ISO 8601 timestamp from the server (`…Z` or with an offset) as an aware datetime."""
    if not isinstance(value, str):
        raise TransportError(f"expected a timestamp, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise TransportError(f"bad timestamp {value!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _error_from_http(error: urllib.error.HTTPError) -> ApiError:
    code, message = "http_error", error.reason if isinstance(error.reason, str) else f"HTTP {error.code}"
    field = None
    try:
        body = json.loads(error.read() or b"{}")
        details = body.get("error", {}) if isinstance(body, dict) else {}
        if isinstance(details, dict):
            code = str(details.get("code", code))
            message = str(details.get("message", message))
            field = str(details["field"]) if details.get("field") else None
    except (ValueError, OSError, http.client.HTTPException):
        pass
    return ApiError(error.code, code, message, parse_retry_after(error.headers.get("Retry-After")), field)


class ControlPlaneClient:
    """Talks to one Pawprint server with one API key (HTTP Basic `KEY_ID:SECRET`)."""

    def __init__(self, url: str, key: str, *, timeout: float = 30.0) -> None:
        base = url.rstrip("/").removesuffix("/api/v1")
        self.api = base + "/api/v1"
        key_id, secret = parse_key(key)
        self.key_id = key_id
        self._authorization = "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()
        self.timeout = timeout

    def _post(self, path: str, data: bytes, *, timeout: float | None = None, gzipped: bool = False) -> Any:
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"pawprint-agent/{__version__}",
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(self.api + path, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise _error_from_http(error) from None
        except urllib.error.URLError as error:
            raise TransportError(f"cannot reach {self.api}: {error.reason}") from error
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise TransportError(f"{type(error).__name__}: {error}") from error

    def _post_json(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> Any:
        return self._post(path, json.dumps(body, separators=(",", ":")).encode(), timeout=timeout)

    def heartbeat(
        self,
        *,
        daemon_name: str,
        version: str,
        projects: list[str],
        middleware: list[MiddlewareClient],
        traffic: list[dict[str, Any]],
    ) -> int:
        """Report that the daemon is alive, its middleware clients and what became of the traffic (`traffic`, see
        `agent.accounting`); returns the interval the server asks for, in seconds."""
        body = {
            "daemon_name": daemon_name,
            "version": version,
            "projects": projects,
            "middleware": [{"project": m.project, "client_name": m.client_name} for m in middleware],
            "traffic": traffic,
        }
        reply = self._post_json("/daemon/heartbeat", body)
        interval = reply.get("heartbeat_interval_seconds") if isinstance(reply, dict) else None
        return interval if isinstance(interval, int) and interval > 0 else 20

    def poll(self, *, project: str, daemon_name: str, active_trace_ids: list[str], timeout: float) -> PollReply:
        """Long-poll for trace changes; the server holds the request until one happens or ~25 s pass."""
        path = f"/projects/{urllib.parse.quote(project, safe='')}/daemon"
        body = {"daemon_name": daemon_name, "active_trace_ids": active_trace_ids}
        reply = self._post_json(path, body, timeout=timeout)
        if not isinstance(reply, dict):
            raise TransportError("the poll reply is not a JSON object")
        try:
            activated = [
                Activation(
                    trace_id=str(item["trace_id"]),
                    trace_name=str(item.get("trace_name", "")),
                    ends_at=parse_time(item["ends_at"]),
                    sampling_rate=float(item.get("sampling_rate", 1.0)),
                )
                for item in reply.get("activated_traces", [])
            ]
            deactivated = [str(item) for item in reply.get("deactivated_traces", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise TransportError(f"malformed poll reply: {error!r}") from error
        return PollReply(activated, deactivated)

    def upload(self, *, project: str, trace_id: str, body: bytes) -> UploadReply:
        """Upload one gzip-compressed witness batch (`agent.batches.Batch.body`) of a trace."""
        path = f"/projects/{urllib.parse.quote(project, safe='')}/traces/{urllib.parse.quote(trace_id, safe='')}"
        reply = self._post(path + "/witnesses", body, gzipped=True)
        if not isinstance(reply, dict):
            raise TransportError("the upload reply is not a JSON object")
        return UploadReply(accepted=int(reply.get("accepted", 0)), duplicate=bool(reply.get("duplicate", False)))
