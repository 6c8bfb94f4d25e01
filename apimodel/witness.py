"""HAR 1.2 entries → obfuscated witnesses, and HAR entries → redacted HAR entries.

A witness keeps what inference needs (method, host, path, names, shapes, formats, sizes,
status, timings, the auth scheme, which path segments the bodies name as identifiers) and
drops every value. `redact_entry` is what a daemon may upload instead of the raw entry;
`witness_from_entry` gives the same witness for both.
"""

import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from apimodel.auth import auth_from_request
from apimodel.formats import jwt_claim_names, placeholder, placeholder_jwt
from apimodel.schema import Schema, has_dynamic_keys, infer_schema, meld, redact_json, redact_text, text_schema

Witness = dict[str, Any]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_METHOD = re.compile(r"[A-Za-z][A-Za-z-]{0,15}")
# What a stored model can hold: longer hosts are no DNS names, longer paths are cut (and counted), and durations
# past a day are dropped (and counted): summed, huge ones would overflow to infinity, which JSON cannot hold.
MAX_HOST_LENGTH = 255
MAX_PATH_LENGTH = 2000
MAX_DURATION_MS = 86_400_000.0
_MULTIPART_NAME = re.compile(r'name="([^"]*)"')
_MULTIPART_FILE = re.compile(r'filename="')
# fields that name the object they are in: `id`, `key`, `name`, `login`, …, `owner_id`, `displayName`, …
_IDENTIFIER_FIELD = re.compile(
    r"(?i:id|key|name|slug|login|handle|username|uuid|guid|uid)"
    r"|.*[_-](?i:id|key|name|slug|uuid)|.*[a-z0-9](?:Id|ID|Key|Name|Slug|Uuid)"
)
# objects nested this deep (arrays are not entered) are searched for path segments they name
MAX_ECHO_DEPTH = 4

# well-known headers carry no API-specific information, so only their names are kept
_STANDARD_HEADERS = frozenset(
    [
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-patch",
        "accept-ranges",
        "age",
        "allow",
        "alt-svc",
        "authorization",
        "cache-control",
        "connection",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-range",
        "content-security-policy",
        "content-type",
        "cookie",
        "date",
        "dnt",
        "etag",
        "expect",
        "expires",
        "forwarded",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "keep-alive",
        "last-modified",
        "link",
        "location",
        "origin",
        "pragma",
        "priority",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "referrer-policy",
        "retry-after",
        "server",
        "set-cookie",
        "strict-transport-security",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "upgrade-insecure-requests",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "x-content-type-options",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-frame-options",
        "x-real-ip",
        "x-requested-with",
        "x-xss-protection",
    ]
)
_STANDARD_PREFIXES = ("sec-", "access-control-", "cf-", "x-amz-cf-")


class InvalidEntry(ValueError):
    """A HAR entry lacks a part a witness cannot do without; `field` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_standard_header(name: str) -> bool:
    """Whether a lower-cased header name is a well-known HTTP header."""
    return name in _STANDARD_HEADERS or name.startswith(_STANDARD_PREFIXES)


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _pairs(value: object) -> list[tuple[str, str]]:
    """`[{name, value}]` HAR lists as (name, value) pairs, skipping malformed items."""
    if not isinstance(value, list):
        return []
    return [
        (str(item["name"]), str(item.get("value", "")))
        for item in value
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]


_JOINED_HEADERS = {"cookie": "; ", "set-cookie": "\n"}


def _joined_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header values by lower-cased name, repeated cookie headers joined."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        lowered = name.lower()
        # HTTP/2 pseudo-headers repeat the method, path and authority
        if lowered.startswith(":"):
            continue
        joiner = _JOINED_HEADERS.get(lowered)
        headers[lowered] = headers[lowered] + joiner + value if joiner and lowered in headers else value
    return headers


def _header_cookie_names(header: str, value: str) -> list[str]:
    """Cookie names in a `cookie` header (`a=1; b=2`) or `set-cookie` lines (`a=1; Path=/`)."""
    pairs = value.split(";") if header == "cookie" else [line.split(";", 1)[0] for line in value.split("\n")]
    return [name for pair in pairs if "=" in pair and (name := pair.split("=", 1)[0].strip())]


def _cookie_names(message: Mapping[str, Any], header_names: frozenset[str]) -> list[str]:
    """The names of the message's cookies, with those its `cookie` or `set-cookie` header names."""
    names = header_names.union(name for name, _ in _pairs(message.get("cookies")))
    return sorted(names)


def _media_type(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    media = value.split(";", 1)[0].strip().lower()
    return media or None


def _is_json(media: str) -> bool:
    return media in ("application/json", "text/json") or media.endswith("+json")


def _fields_schema(fields: list[tuple[str, Schema]]) -> Schema:
    properties: dict[str, Schema] = {}
    for name, schema in fields:
        properties[name] = meld(properties[name], schema) if name in properties else schema
    names = sorted(properties)
    return {"type": "object", "properties": {n: properties[n] for n in names}, "required": names}


def _multipart_parts(post: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(name, text value) of each part of a multipart body; the value is None for files."""
    params = post.get("params")
    if isinstance(params, list) and params:
        return [
            (str(p["name"]), None if p.get("fileName") is not None else str(p.get("value", "")))
            for p in params
            if isinstance(p, dict) and isinstance(p.get("name"), str)
        ]
    text = post.get("text")
    boundary = re.search(r"boundary=\"?([^\";]+)", str(post.get("mimeType", "")))
    if not isinstance(text, str) or boundary is None:
        return []
    parts: list[tuple[str, str | None]] = []
    for part in text.split("--" + boundary.group(1)):
        head, _, body = part.replace("\r\n", "\n").partition("\n\n")
        name = _MULTIPART_NAME.search(head)
        if name is not None:
            is_file = _MULTIPART_FILE.search(head) is not None
            parts.append((name.group(1), None if is_file else body.removesuffix("\n")))
    return parts


def _part_schema(value: str | None) -> Schema:
    return {"type": "string", "format": "binary"} if value is None else text_schema(value)


def _form_pairs(post: Mapping[str, Any]) -> list[tuple[str, str]]:
    params = _pairs(post.get("params"))
    if params:
        return params
    text = post.get("text")
    return parse_qsl(text, keep_blank_values=True) if isinstance(text, str) else []


_NOT_JSON = object()
# a witness stays small: a body schema larger than this keeps only its top-level type
MAX_BODY_SCHEMA_BYTES = 65536
# Obfuscated JSON bodies of one shape are one text (in real traffic, six in ten are a text seen before), so the
# schemas of the texts seen last are remembered, up to this many bytes of text per process.
MEMO_BYTES = 16 * 1024 * 1024


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _bounded(schema: Schema | None) -> Schema | None:
    if schema is None or len(json.dumps(schema)) <= MAX_BODY_SCHEMA_BYTES:
        return schema
    return {"type": schema["type"]} if "type" in schema else {}


# A JSON body as a witness needs it: its schema, and the texts of its identifier fields (to find path echoes).
_JsonBody = tuple[Schema | None, frozenset[str]]
_NO_BODY: _JsonBody = (None, frozenset())


def _json_body(text: str) -> _JsonBody:
    value = _parse_json(text)
    return _NO_BODY if value is _NOT_JSON else (_bounded(infer_schema(value)), _identifier_texts(value))


_Key = TypeVar("_Key", bound=Hashable)
_Value = TypeVar("_Value")
_MISSING = object()


class _Memo(Generic[_Key, _Value]):
    """`compute(key)` of the keys seen last, up to `max_bytes` of keys (as `size` counts them); the oldest go first.

    What it gives back is shared by every caller that asks for the same key, so it must never be changed in place.
    """

    def __init__(self, compute: Callable[[_Key], _Value], size: Callable[[_Key], int], max_bytes: int) -> None:
        self.compute = compute
        self.size = size
        self.max_bytes = max_bytes
        self._values: dict[_Key, _Value] = {}
        self._bytes = 0
        self._lock = threading.Lock()  # web servers run views in threads

    def get(self, key: _Key) -> _Value:
        with self._lock:
            found = self._values.pop(key, _MISSING)
            if found is not _MISSING:
                value = self._values[key] = cast(_Value, found)  # the newest last
                return value
        size = self.size(key)
        value = self.compute(key)
        if size > self.max_bytes // 16:
            return value
        with self._lock:
            if key not in self._values:
                self._bytes += size
            self._values[key] = value
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._values))
                self._bytes -= self.size(oldest)
                del self._values[oldest]
        return value


# Schemas are never changed in place (`meld` makes new ones), so witnesses may share one.
_json_bodies = _Memo(_json_body, len, MEMO_BYTES)


def _body(media: str | None, post: Mapping[str, Any], text: str | None) -> _JsonBody:
    """Schema of a body (JSON from its `text`, form and multipart; None for anything else), and the texts of its
    identifier fields."""
    if media is None:
        return _NO_BODY
    if _is_json(media):
        return _json_bodies.get(text) if text else _NO_BODY
    if media == "application/x-www-form-urlencoded":
        pairs = _form_pairs(post)
        if not pairs:
            return _NO_BODY
        return _bounded(_fields_schema([(name, text_schema(value)) for name, value in pairs])), _identifier_texts(
            dict(pairs)
        )
    if media == "multipart/form-data":
        parts = _multipart_parts(post)
        return (
            (_bounded(_fields_schema([(name, _part_schema(value)) for name, value in parts])), frozenset())
            if parts
            else _NO_BODY
        )
    return _NO_BODY


def _size(declared: object, text: str | None) -> int:
    if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 0:
        return declared
    return len(text.encode()) if text else 0


def _content_text(content: Mapping[str, Any]) -> str | None:
    text = content.get("text")
    if not isinstance(text, str):
        return None
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text).decode()
        except ValueError:  # bad base64 or not UTF-8 text
            return None
    return text


def _duration(value: object) -> float | None:
    """A HAR duration in ms; -1 (not applicable), non-numbers and durations past MAX_DURATION_MS are None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_DURATION_MS:
        return float(value)
    return None


def _time_ms(entry: Mapping[str, Any]) -> float | None:
    total = _duration(entry.get("time"))
    if total is not None:
        return round(total, 3)
    # entry.time is the sum of the timings, where ssl is already part of connect
    parts = [d for k, v in _dict(entry.get("timings")).items() if k != "ssl" and (d := _duration(v)) is not None]
    return round(sum(parts), 3) if parts else None


def _header_shapes(headers: dict[str, str]) -> dict[str, Schema | None]:
    return {name: None if is_standard_header(name) else text_schema(value) for name, value in sorted(headers.items())}


# A message's headers as a witness needs them: values by lower-cased name, their shapes, and the cookie names in
# its `cookie` (request) or `set-cookie` (response) header.
_MessageHeaders = tuple[dict[str, str], dict[str, Schema | None], frozenset[str]]
# which cookie header, and the (name, value) pairs
_HeadersKey = tuple[str, tuple[tuple[str, str], ...]]


def _message_headers(key: _HeadersKey) -> _MessageHeaders:
    cookie_header, pairs = key
    headers = _joined_headers(pairs)
    cookies = frozenset(_header_cookie_names(cookie_header, headers.get(cookie_header, "")))
    return headers, _header_shapes(headers), cookies


def _headers_size(key: _HeadersKey) -> int:
    return sum(len(name) + len(value) for name, value in key[1])


# Obfuscated headers repeat even more than bodies (in the eval recordings as daemons upload them, 90 distinct
# header lists among 6,852 messages), and so do URLs (1,866 among 3,426 requests).
_message_headers_seen = _Memo(_message_headers, _headers_size, MEMO_BYTES // 16)


def _request_url(request: Mapping[str, Any]) -> str:
    url = request.get("url")
    if not isinstance(url, str):
        raise InvalidEntry("request.url", "is required")
    return url


def _parse_url(url: str) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(scheme, host[:port], path, query pairs) of an absolute http(s) request URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidEntry("request.url", "is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidEntry("request.url", "must be an absolute http(s) URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidEntry("request.url", f"the host must be at most {MAX_HOST_LENGTH} characters")
    return scheme, host, parts.path or "/", parse_qsl(parts.query, keep_blank_values=True)


# A URL as a witness needs it: scheme, host[:port], path, and the shapes of its query parameters by name, in order.
_WitnessUrl = tuple[str, str, str, dict[str, Schema]]


def _witness_url(url: str) -> _WitnessUrl:
    scheme, host, path, query = _parse_url(url)
    query_shapes: dict[str, Schema] = {}
    for name, value in query:
        shape = text_schema(value)
        query_shapes[name] = meld(query_shapes[name], shape) if name in query_shapes else shape
    return scheme, host, path, {name: query_shapes[name] for name in sorted(query_shapes)}


_witness_urls = _Memo(_witness_url, len, MEMO_BYTES // 16)


def _method(request: Mapping[str, Any]) -> str:
    method = request.get("method")
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise InvalidEntry("request.method", "must be an HTTP method (up to 16 letters and dashes)")
    return method.upper()


def _status(response: Mapping[str, Any]) -> int:
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidEntry("response.status", "must be an HTTP status code (100-599)")
    return status


def _parts(entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(entry, Mapping):
        raise InvalidEntry("entry", "must be an object")
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, dict):
        raise InvalidEntry("request", "is required")
    if not isinstance(response, dict):
        raise InvalidEntry("response", "is required")
    return request, response


def _wanted_segments(path: str) -> dict[str, list[int]]:
    """Path segments by their text, to find in bodies."""
    wanted: dict[str, list[int]] = {}
    for index, segment in enumerate(path.split("/")[1:]):
        if segment:
            wanted.setdefault(unquote(segment), []).append(index)
    return wanted


def _identifier_fields(value: object, keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, text) of each identifier field of `value`'s nested objects that holds a plain string (which a
    path segment could be). Arrays (other objects) and objects keyed by ids (data, not fields) are not searched."""
    if not isinstance(value, dict) or len(keys) >= MAX_ECHO_DEPTH:
        return
    found = [
        (name, item)
        for name, item in value.items()
        if isinstance(item, dict) or (isinstance(item, str) and _IDENTIFIER_FIELD.fullmatch(name))
    ]
    # the costlier check only where something was found
    if not found or has_dynamic_keys(value):
        return
    for name, item in found:
        if isinstance(item, dict):
            yield from _identifier_fields(item, (*keys, name))
        # numbers and formatted values are ids by themselves, and their placeholders could match a segment
        elif text_schema(item) == {"type": "string"}:
            yield (*keys, name), item


def _identifier_texts(value: object) -> frozenset[str]:
    return frozenset(text for _, text in _identifier_fields(value))


def _echo_fields(value: object, wanted: dict[str, list[int]]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, text) of each identifier field of `value` whose text is a path segment."""
    return ((keys, text) for keys, text in _identifier_fields(value) if text in wanted)


def _path_echoes(path: str, identifiers: frozenset[str]) -> list[int]:
    """Indexes of the path segments that a body names as an identifier: `GET /licenses/mit` answering
    `{"key": "mit"}` echoes segment 1. Only the positions are kept, never the values."""
    if not identifiers:
        return []
    return sorted(i for text, indexes in _wanted_segments(path).items() if text in identifiers for i in indexes)


def _started_at(entry: Mapping[str, Any]) -> str | None:
    started = entry.get("startedDateTime")
    if started is None:
        return None
    try:
        datetime.fromisoformat(started).astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidEntry("startedDateTime", "must be an ISO 8601 date and time") from None
    return str(started)


def witness_from_entry(entry: Mapping[str, Any], clamped: Counter[str] | None = None) -> Witness:
    """Turn a HAR 1.2 entry into a compact witness with no values in it.

    Raises InvalidEntry when the method, an absolute http(s) URL or the status is missing or
    malformed, or startedDateTime is not ISO 8601; anything else missing gets a default. What is
    cut to fit (`path_truncated`, `time_out_of_range`) is counted in `clamped`.
    """
    request, response = _parts(entry)
    method = _method(request)
    scheme, host, path, query_shapes = _witness_urls.get(_request_url(request))
    status = _status(response)
    started = _started_at(entry)
    cuts = clamped if clamped is not None else Counter[str]()
    if len(path) > MAX_PATH_LENGTH:
        path = path[:MAX_PATH_LENGTH]
        cuts["path_truncated"] += 1
    time = entry.get("time")
    if isinstance(time, (int, float)) and not isinstance(time, bool) and not time <= MAX_DURATION_MS:
        cuts["time_out_of_range"] += 1

    req_headers, req_header_shapes, req_header_cookies = _message_headers_seen.get(
        ("cookie", tuple(_pairs(request.get("headers"))))
    )
    req_cookies = _cookie_names(request, req_header_cookies)
    post = _dict(request.get("postData"))
    post_text = post.get("text") if isinstance(post.get("text"), str) else None
    req_media = _media_type(post.get("mimeType")) or _media_type(req_headers.get("content-type"))

    resp_headers, resp_header_shapes, resp_header_cookies = _message_headers_seen.get(
        ("set-cookie", tuple(_pairs(response.get("headers"))))
    )
    content = _dict(response.get("content"))
    resp_text = _content_text(content)
    resp_media = _media_type(content.get("mimeType")) or _media_type(resp_headers.get("content-type"))
    resp_size = _size(content.get("size"), resp_text)
    if resp_size == 0:
        resp_size = _size(response.get("bodySize"), None)

    req_body, req_identifiers = _body(req_media, post, post_text)
    resp_body, resp_identifiers = _body(resp_media, {}, resp_text)
    return {
        "started_at": started,
        "method": method,
        "scheme": scheme,
        "host": host,
        "path": path,
        "path_echoes": _path_echoes(path, req_identifiers | resp_identifiers),
        "query": dict(query_shapes),
        "auth": auth_from_request(req_headers, list(query_shapes), req_cookies),
        "request": {
            "headers": dict(req_header_shapes),
            "cookies": req_cookies,
            "content_type": req_media,
            "size": _size(request.get("bodySize"), post_text),
            "body": req_body,
        },
        "response": {
            "status": status,
            "headers": dict(resp_header_shapes),
            "cookies": _cookie_names(response, resp_header_cookies),
            "content_type": resp_media,
            "size": resp_size,
            "body": resp_body,
        },
        "time_ms": _time_ms(entry),
    }


def _redact_authorization(value: str) -> str:
    if not value.strip():
        return ""
    kind, _, credential = value.strip().partition(" ")
    if kind.lower() == "basic":
        return "Basic " + base64.b64encode(b"user:password").decode()
    if kind.lower() == "bearer":
        claims = jwt_claim_names(credential.strip())
        return "Bearer " + (placeholder("token") if claims is None else placeholder_jwt(claims))
    return f"{kind} {placeholder('token')}"


def _redact_header(lowered: str, value: str) -> str:
    """The placeholder value of a header (by its lower-cased name)."""
    if lowered in ("content-type", "content-encoding"):
        return value
    if lowered == "authorization":
        return _redact_authorization(value)
    if lowered in _JOINED_HEADERS:
        return _JOINED_HEADERS[lowered].join(f"{name}=" for name in _header_cookie_names(lowered, value))
    return redact_text(value)


def _redact_pairs(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": redact_text(value)} for name, value in pairs]


def _redact_message_headers(message: Mapping[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """The headers of a request or response with placeholder values, and the media type of its (last)
    `Content-Type` header, in one pass."""
    redacted = []
    content_type = None
    for name, value in _pairs(message.get("headers")):
        lowered = name.lower()
        redacted.append({"name": name, "value": _redact_header(lowered, value)})
        if lowered == "content-type":
            content_type = value
    return redacted, _media_type(content_type)


def _redact_json_body(value: object, wanted: dict[str, list[int]]) -> object:
    """`redact_json`, keeping the identifier fields that name a path segment (the path holds them anyway)."""
    redacted = redact_json(value)
    for keys, text in _echo_fields(value, wanted):
        target: Any = redacted
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = text
    return redacted


def _redact_form(pairs: list[tuple[str, str]], wanted: dict[str, list[int]]) -> list[dict[str, str]]:
    kept = {(keys[0], text) for keys, text in _echo_fields(dict(pairs), wanted)}
    return [{"name": name, "value": value if (name, value) in kept else redact_text(value)} for name, value in pairs]


def _redact_body(
    media: str | None, post: Mapping[str, Any], text: str | None, wanted: dict[str, list[int]]
) -> dict[str, Any]:
    """Placeholder `text`/`params` for a body so that `_body_schema` and `path_echoes` read the same."""
    if media is not None and _is_json(media) and text:
        value = _parse_json(text)
        return {"text": "" if value is _NOT_JSON else json.dumps(_redact_json_body(value, wanted))}
    if media == "application/x-www-form-urlencoded":
        params = _redact_form(_form_pairs(post), wanted)
        return {"text": urlencode([(p["name"], p["value"]) for p in params]), "params": params}
    if media == "multipart/form-data":
        params = [
            {"name": name, "fileName": "file", "contentType": "application/octet-stream"}
            if value is None
            else {"name": name, "value": redact_text(value)}
            for name, value in _multipart_parts(post)
        ]
        return {"text": "", "params": params}
    return {"text": ""}


def redact_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A HAR entry with every value replaced by a placeholder of the same type and format.

    Methods, hosts, paths, names, sizes, statuses and timings stay; unknown fields go.
    `witness_from_entry(redact_entry(e)) == witness_from_entry(e)`.
    """
    request, response = _parts(entry)
    method = _method(request)
    scheme, host, path, query = _parse_url(_request_url(request))
    status = _status(response)

    query_params = _redact_pairs(query)
    wanted = _wanted_segments(path)
    url = f"{scheme}://{host}{path}"
    if query_params:
        url += "?" + urlencode([(p["name"], p["value"]) for p in query_params])

    req_headers, req_header_media = _redact_message_headers(request)
    post = _dict(request.get("postData"))
    post_text = post.get("text") if isinstance(post.get("text"), str) else None
    redacted_request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": str(request.get("httpVersion", "HTTP/1.1")),
        "headers": req_headers,
        "queryString": query_params,
        "cookies": [{"name": name, "value": ""} for name, _ in _pairs(request.get("cookies"))],
        "headersSize": -1,
        "bodySize": _size(request.get("bodySize"), post_text),
    }
    req_media = _media_type(post.get("mimeType")) or req_header_media
    if post:
        redacted_request["postData"] = {"mimeType": req_media or "", **_redact_body(req_media, post, post_text, wanted)}

    resp_headers, resp_header_media = _redact_message_headers(response)
    content = _dict(response.get("content"))
    resp_text = _content_text(content)
    resp_media = _media_type(content.get("mimeType")) or resp_header_media
    resp_size = _size(content.get("size"), resp_text)
    redacted_response = {
        "status": status,
        "statusText": "",
        "httpVersion": str(response.get("httpVersion", "HTTP/1.1")),
        "headers": resp_headers,
        "cookies": [{"name": name, "value": ""} for name, _ in _pairs(response.get("cookies"))],
        "content": {"size": resp_size, "mimeType": resp_media or "", **_redact_body(resp_media, {}, resp_text, wanted)},
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": _size(response.get("bodySize"), None) if resp_size == 0 else -1,
    }
    timings = {k: d for k, v in _dict(entry.get("timings")).items() if (d := _duration(v)) is not None}
    time = _duration(entry.get("time"))
    redacted: dict[str, Any] = {
        "startedDateTime": _started_at(entry),
        "time": -1 if time is None else time,
        "request": redacted_request,
        "response": redacted_response,
        "cache": {},
        "timings": timings,
    }
    return redacted
