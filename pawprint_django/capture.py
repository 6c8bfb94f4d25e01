"""A request and its response: copied cheaply in the request's thread, made into a HAR entry in the background.

The request thread only copies what it has (headers, body bytes, status); building and obfuscating the entry
happens on the sender thread, so the app's added latency stays small.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponseBase
from django.http.request import RawPostDataException

# what an exchange costs beyond its bodies, roughly, for the queue's byte limit
OVERHEAD_BYTES = 1024


@dataclass(slots=True)
class Exchange:
    """What the HAR entry of one request is built from, plus the traces it belongs to."""

    traces: tuple[str, ...]
    started: float  # epoch seconds
    elapsed_ms: float
    method: str
    url: str
    http_version: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None  # None: left out (too large, or already consumed as a form)
    request_size: int
    form: list[tuple[str, str | None]] | None  # multipart fields (None for files) when the view read the stream
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_cookies: list[str]
    response_body: bytes | None  # None: left out (too large, or streamed)
    response_size: int

    @property
    def size(self) -> int:
        return OVERHEAD_BYTES + len(self.request_body or b"") + len(self.response_body or b"")


def _host(request: HttpRequest) -> str:
    try:
        return request.get_host()
    except Exception:  # a host the app refused (DisallowedHost) still gets a URL
        return str(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME") or "localhost")


def _request_body(request: HttpRequest, limit: int) -> tuple[bytes | None, int, list[tuple[str, str | None]] | None]:
    """(body, size, form fields): the body if the app's reading left it available and it is small enough."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None, declared, None
    try:
        body = request.body
    except RawPostDataException:  # the view read a multipart form: its field names are what we can keep
        fields: list[tuple[str, str | None]] = [(n, v) for n, values in request.POST.lists() for v in values]
        return None, declared, fields + [(name, None) for name in request.FILES]
    except Exception:  # too large for Django (RequestDataTooBig), or a client that went away
        return None, declared, None
    return (body if len(body) <= limit else None), len(body), None


def exchange_of(
    request: HttpRequest,
    response: HttpResponseBase,
    *,
    traces: tuple[str, ...],
    started: float,
    elapsed_ms: float,
    max_body_bytes: int,
) -> Exchange:
    """Copy what the entry needs; no parsing, no obfuscation (that happens on the sender thread)."""
    request_body, request_size, form = _request_body(request, max_body_bytes)
    response_body: bytes | None = None
    response_size = -1
    if not response.streaming:
        content: bytes = response.content  # type: ignore[attr-defined]
        response_size = len(content)
        response_body = content if response_size <= max_body_bytes else None
    return Exchange(
        traces=traces,
        started=started,
        elapsed_ms=elapsed_ms,
        method=request.method or "GET",
        url=f"{request.scheme}://{_host(request)}{request.get_full_path()}",
        http_version=str(request.META.get("SERVER_PROTOCOL") or "HTTP/1.1"),
        request_headers=list(request.headers.items()),
        request_body=request_body,
        request_size=request_size,
        form=form,
        status=response.status_code,
        reason=response.reason_phrase,
        response_headers=list(response.items()),
        response_cookies=list(response.cookies),
        response_body=response_body,
        response_size=response_size,
    )


def _text(body: bytes | None) -> str | None:
    try:
        return None if body is None else body.decode()
    except UnicodeDecodeError:  # binary: only its size is kept
        return None


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


def _pairs(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def har_entry(exchange: Exchange) -> dict[str, Any]:
    """The HAR 1.2 entry of an exchange, values still in it (obfuscate it with `apimodel.redact_entry`)."""
    query = exchange.url.partition("?")[2]
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": exchange.http_version,
        "headers": _pairs(exchange.request_headers),
        "queryString": _pairs(parse_qsl(query, keep_blank_values=True)),
        "cookies": [],
        "headersSize": -1,
        "bodySize": exchange.request_size,
    }
    media = _header(exchange.request_headers, "content-type")
    if exchange.form is not None:
        params = [
            {"name": name, "fileName": "file"} if value is None else {"name": name, "value": value}
            for name, value in exchange.form
        ]
        request["postData"] = {"mimeType": media, "params": params}
    elif exchange.request_body:
        request["postData"] = {"mimeType": media, "text": _text(exchange.request_body) or ""}
    content: dict[str, Any] = {"size": exchange.response_size, "mimeType": _header(exchange.response_headers,
                                                                                    "content-type")}  # fmt: skip
    if (text := _text(exchange.response_body)) is not None:
        content["text"] = text
    return {
        "startedDateTime": datetime.fromtimestamp(exchange.started, UTC).isoformat(),
        "time": exchange.elapsed_ms,
        "request": request,
        "response": {
            "status": exchange.status,
            "statusText": exchange.reason,
            "httpVersion": exchange.http_version,
            "headers": _pairs(exchange.response_headers),
            "cookies": [{"name": name, "value": ""} for name in exchange.response_cookies],
            "content": content,
            "redirectURL": _header(exchange.response_headers, "location"),
            "headersSize": -1,
            "bodySize": exchange.response_size,
        },
        "cache": {},
        "timings": {"send": 0, "wait": exchange.elapsed_ms, "receive": 0},
    }
