"""Export an API model as an OpenAPI 3.1 document, and write it out as JSON or YAML a part at a time."""

import functools
import http
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from apimodel.schema import meld
from apimodel.sensitive import SENSITIVE, mark_schema, schema_kind

_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]")
_OPERATION_ID = re.compile(r"[^A-Za-z0-9]+")


def _component_name(scheme: str) -> str:
    # component keys allow only [A-Za-z0-9._-]: `apikey_header:x-api-key` → `apikey_header_x-api-key`
    return _COMPONENT_NAME.sub("_", scheme)


_PHRASES = {str(status.value): status.phrase for status in http.HTTPStatus}


def _description(status: str) -> str:
    return _PHRASES.get(status) or f"Status {status}"


def _content(bodies: Mapping[str, Any]) -> dict[str, Any]:
    return {media: {"schema": schema} for media, schema in bodies.items()}


def _merge_content(into: dict[str, Any], bodies: Mapping[str, Any]) -> None:
    for media, schema in bodies.items():
        # melding drops the sensitive-data marks, which the melded schema gets anew
        melded = mark_schema(meld(into[media]["schema"], schema), None, set()) if media in into else schema
        into[media] = {"schema": melded}


def _operation(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "parameters": [dict(p) for p in endpoint["parameters"]],
        "responses": {
            status: {"description": _description(status), "content": _content(response["content"])}
            for status, response in endpoint["responses"].items()
        },
        "security": _security(endpoint["auth"]),
        # models built before sensitive data was marked have no `sensitive`
        SENSITIVE: list(endpoint.get("sensitive", [])),
    }
    if endpoint["request_body"]:
        operation["requestBody"] = {"content": _content(endpoint["request_body"])}
    return operation


def _security(auth: list[str]) -> list[dict[str, list[str]]]:
    # an empty requirement object makes authentication optional
    return [{} if name == "none" else {_component_name(name): []} for name in auth]


def _merge_operation(operation: dict[str, Any], endpoint: Mapping[str, Any]) -> None:
    """Fold the same method and path seen on another host into one operation."""
    known = {(p["name"], p["in"]): p for p in operation["parameters"]}
    theirs = {(p["name"], p["in"]) for p in endpoint["parameters"]}
    for key, mine in known.items():
        mine["required"] = mine["required"] and key in theirs
    for param in endpoint["parameters"]:
        mine = known.get((param["name"], param["in"]))
        if mine is None:
            operation["parameters"].append({**param, "required": False})
        else:
            mine["schema"] = meld(mine["schema"], param["schema"])
            mine["required"] = mine["required"] and param["required"]
            mine.pop(SENSITIVE, None)
            if (kind := schema_kind(mine["schema"], mine["name"])) is not None:
                mine[SENSITIVE] = kind
    for status, response in endpoint["responses"].items():
        described = operation["responses"].setdefault(status, {"description": _description(status), "content": {}})
        _merge_content(described["content"], response["content"])
    if endpoint["request_body"]:
        body = operation.setdefault("requestBody", {"content": {}})
        _merge_content(body["content"], endpoint["request_body"])
    for requirement in _security(endpoint["auth"]):
        if requirement not in operation["security"]:
            operation["security"].append(requirement)
    operation[SENSITIVE] = sorted({*operation[SENSITIVE], *endpoint.get("sensitive", [])})


def _tidy(operation: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """Drop empty parts, which OpenAPI readers show as noise."""
    tidy: dict[str, Any] = {"operationId": operation_id}
    tidy.update({key: value for key, value in operation.items() if value})
    for response in tidy["responses"].values():
        if not response["content"]:
            del response["content"]
    return tidy


def _servers_of(hosts: set[str], servers: list[str]) -> list[dict[str, str]]:
    """Server objects of the model's servers on `hosts` (`https://a.example:8443` is on `a.example:8443`)."""
    return [
        {"url": url}
        for host in sorted(hosts)
        for url in [url for url in servers if url.partition("://")[2] == host] or [f"https://{host}"]
    ]


def to_openapi(model: Mapping[str, Any], *, title: str, version: str = "1.0.0") -> dict[str, Any]:
    """An OpenAPI 3.1 document for a model from `ModelBuilder.result()`.

    All hosts become the document's `servers`; the same method and path on several hosts
    become one operation. When the model spans several hosts, each path item lists the
    servers of the hosts it was seen on, and an operation seen on fewer hosts than its path
    lists its own, so that no path or operation claims a host where it was not seen.
    """
    paths: dict[str, dict[str, Any]] = {}
    hosts_of: dict[tuple[str, str], set[str]] = {}
    endpoints = model.get("endpoints", [])
    for endpoint in endpoints:
        item = paths.setdefault(endpoint["path"], {})
        method = endpoint["method"].lower()
        if method in item:
            _merge_operation(item[method], endpoint)
        else:
            item[method] = _operation(endpoint)
        hosts_of.setdefault((endpoint["path"], method), set()).add(endpoint["host"])
    hosts = sorted({endpoint["host"] for endpoint in endpoints})
    servers = model.get("servers") or [f"https://{host}" for host in hosts]
    used_ids: set[str] = set()
    for path, item in paths.items():
        path_hosts = set().union(*(hosts_of[(path, method)] for method in item))
        for method, operation in item.items():
            base = _OPERATION_ID.sub("_", f"{method} {path}").strip("_")
            operation_id, n = base, 2
            while operation_id in used_ids:
                operation_id, n = f"{base}_{n}", n + 1
            used_ids.add(operation_id)
            item[method] = _tidy(operation, operation_id)
            if hosts_of[(path, method)] != path_hosts:
                item[method]["servers"] = _servers_of(hosts_of[(path, method)], servers)
        if len(hosts) > 1:
            item["servers"] = _servers_of(path_hosts, servers)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": url} for url in servers],
        "paths": paths,
    }
    schemes = model.get("security_schemes") or {}
    if schemes:
        document["components"] = {
            "securitySchemes": {_component_name(name): scheme for name, scheme in sorted(schemes.items())}
        }
    return document


def _json(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _buffered(parts: Iterator[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    """`parts` joined into chunks of about `size` bytes (a response writes each chunk separately)."""
    buffer: list[bytes] = []
    length = 0
    for part in parts:
        buffer.append(part)
        length += len(part)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)


def _json_parts(document: Mapping[str, Any]) -> Iterator[bytes]:
    yield b"{"
    for index, (key, value) in enumerate(document.items()):
        comma = b"," if index else b""
        if key != "paths" or not value:
            yield comma + _json(key) + b":" + _json(value)
            continue
        yield comma + b'"paths":{'
        for n, (path, item) in enumerate(value.items()):
            yield (b"," if n else b"") + _json(path) + b":" + _json(item)
        yield b"}"
    yield b"}"


def openapi_json(document: Mapping[str, Any]) -> Iterator[bytes]:
    """`document` as compact UTF-8 JSON, written a path item at a time, in chunks."""
    return _buffered(_json_parts(document))


# A string stays plain (unquoted) in YAML when it cannot be read back as anything else: starts with a letter
# (never a number, a date or an indicator), holds no `:` or `#`, and is no YAML 1.1 boolean or null word;
# or is a dotted version like 3.1.0. Everything else is double-quoted, JSON's escapes being YAML's too.
_PLAIN = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_ ./()+-]*[A-Za-z0-9_./()+-])?|\d+(?:\.\d+){2,}")
_NOT_PLAIN = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Characters YAML does not allow unescaped, or reads as line breaks, which JSON leaves as they are.
_YAML_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


_CONTAINERS = (dict, list)
# A YAML implicit key may not be longer than 1024 characters; longer ones are written as explicit keys (`? key`).
_MAX_IMPLICIT_KEY = 1000
_LONG_KEY = re.compile(rb'"(?:[^"\\]|\\.){%d,}":' % _MAX_IMPLICIT_KEY)


@functools.lru_cache(maxsize=1 << 16)
def _yaml_string(text: str) -> str:
    if _PLAIN.fullmatch(text) and text.lower() not in _NOT_PLAIN:
        return text
    return _yaml_escaped(orjson.dumps(text).decode())


def _yaml_escaped(json_text: str) -> str:
    return _YAML_ESCAPE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return _yaml_string(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        # YAML 1.1 reads 1e+300 as a string: its floats need a dot
        return text if "." in text else text.replace("e", ".0e")
    if isinstance(value, _CONTAINERS):
        return "{}" if isinstance(value, dict) else "[]"  # empty: non-empty ones are blocks
    return str(value)


def _yaml_flow(value: Any) -> str | None:
    """A JSON Schema in flow style: its JSON (JSON is YAML), made in C, where a block would cost a Python call
    per node; None when it holds a key too long for YAML's flow style."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return None
    if _LONG_KEY.search(text):
        return None
    return _yaml_escaped(text.decode())


def _yaml_block(value: Any, indent: str, out: list[str], first: str | None = None) -> None:
    """Append a non-empty mapping or sequence as a block at `indent` (its first line after `first` instead,
    as in `- key: value`). Scalars are written inline, without a call each: they are most of the nodes."""
    lead = indent if first is None else first
    if isinstance(value, dict):
        for key, item in value.items():
            name = _yaml_string(key)
            if len(name) > _MAX_IMPLICIT_KEY:
                out.append(f"{lead}? {name}\n")
                head = f"{indent}:"
            else:
                head = f"{lead}{name}:"
            lead = indent
            if not (isinstance(item, _CONTAINERS) and item):
                out.append(f"{head} {_yaml_scalar(item)}\n")
            elif key == "schema" and (flow := _yaml_flow(item)) is not None:
                out.append(f"{head} {flow}\n")
            else:
                out.append(f"{head}\n")
                _yaml_block(item, indent + "  ", out)
        return
    inner = indent + "  "
    for item in value:
        if not (isinstance(item, _CONTAINERS) and item):
            out.append(f"{lead}- {_yaml_scalar(item)}\n")
        elif isinstance(item, dict):
            _yaml_block(item, inner, out, first=f"{lead}- ")
        else:
            out.append(f"{lead}-\n")
            _yaml_block(item, inner, out)
        lead = indent


def _yaml_parts(document: Mapping[str, Any]) -> Iterator[bytes]:
    for key, value in document.items():
        out: list[str] = []
        if key == "paths" and value:
            yield b"paths:\n"
            for path, item in value.items():
                out = []
                _yaml_block({path: item}, "  ", out)
                yield "".join(out).encode()
        else:
            _yaml_block({key: value}, "", out)
            yield "".join(out).encode()


def openapi_yaml(document: Mapping[str, Any]) -> Iterator[bytes]:
    """`document` as UTF-8 YAML, written a path item at a time, in chunks: block style, but JSON Schemas
    (the bulk of a large document) in flow style, which is their JSON."""
    return _buffered(_yaml_parts(document))
