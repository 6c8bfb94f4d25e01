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


def _description(status: str) -> str:
    try:
        return http.HTTPStatus(int(status)).phrase
    except ValueError:
        return f"Status {status}"


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


@functools.lru_cache(maxsize=1 << 16)
def _yaml_string(text: str) -> str:
    if _PLAIN.fullmatch(text) and text.lower() not in _NOT_PLAIN:
        return text
    return _YAML_ESCAPE.sub(lambda match: f"\\u{ord(match.group()):04x}", orjson.dumps(text).decode())


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
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"  # empty: non-empty ones are blocks
    return str(value)


def _yaml_entry(head: str, value: Any, indent: str, out: list[str]) -> None:
    """Append `head` (`key:` or `-`) with `value`: on the same line if a scalar, else as an indented block."""
    if not (isinstance(value, dict | list) and value):
        out.append(f"{head} {_yaml_scalar(value)}\n")
        return
    out.append(f"{head}\n")
    inner = indent + "  "
    if isinstance(value, dict):
        for key, item in value.items():
            _yaml_entry(f"{inner}{_yaml_string(str(key))}:", item, inner, out)
        return
    for item in value:
        start = len(out)
        _yaml_entry(f"{inner}-", item, inner, out)
        if isinstance(item, dict) and item and out[start] == f"{inner}-\n":
            # `- key: value` on one line, the item's other keys under it
            del out[start]
            out[start] = f"{inner}- {out[start][len(inner) + 2 :]}"


def _yaml_parts(document: Mapping[str, Any]) -> Iterator[bytes]:
    for key, value in document.items():
        out: list[str] = []
        if key != "paths" or not value:
            _yaml_entry(f"{_yaml_string(key)}:", value, "", out)
            yield "".join(out).encode()
            continue
        yield b"paths:\n"
        for path, item in value.items():
            out = []
            _yaml_entry(f"  {_yaml_string(path)}:", item, "  ", out)
            yield "".join(out).encode()


def openapi_yaml(document: Mapping[str, Any]) -> Iterator[bytes]:
    """`document` as UTF-8 YAML (block style, no anchors), written a path item at a time, in chunks."""
    return _buffered(_yaml_parts(document))
