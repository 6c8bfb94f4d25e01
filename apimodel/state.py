"""A builder's state as bytes, in an explicit, versioned format, so an incremental build can resume.

The bytes are a header line `pawprint-builder <STATE_VERSION>` then zlib-compressed JSON:

    {"hints": {"force": [...], "static": [...], "hidden": [...], "show_default_hidden": false},
     "witness_count": 12, "servers": ["https://a.example"], "claims": {"jwt": ["sub"]},
     "hosts": {"a.example": NODE}}

    NODE = {"static": {literal: NODE}, "params": {suffix: NODE}, "value_schema": SCHEMA | null,
            "forced_name": str | null, "pinned": bool, "folded": bool, "echoed": bool,
            "shapes": [id format], "parent_values": [int], "endpoints": {method: STATS}}
    STATS = {"count": int, "first_seen": ISO 8601 | null, "last_seen": ..., "query": {name: FIELD},
             "headers": {name: FIELD}, "cookies": {name: FIELD}, "request_body": {media: SCHEMA | null},
             "responses": {status: {"count": int, "content": {media: SCHEMA | null}}}, "auth": [scheme],
             "latency": LatencySketch.to_dict(), "timeline": Timeline.to_dict()}
    FIELD = {"count": int, "schema": SCHEMA | null}

Schemas are JSON Schema as the builder keeps them. The same builder always gives the same bytes.
"""

import dataclasses
import datetime as dt
import zlib
from typing import Any

import orjson

from apimodel.builder import STATE_VERSION, ModelBuilder, PathHints
from apimodel.endpoint import BodyStats, EndpointStats, FieldStats, StatusStats
from apimodel.latency import LatencySketch
from apimodel.paths import PathNode
from apimodel.schema import Schema
from apimodel.timeline import Timeline

_MAGIC = b"pawprint-builder"


class StateFormatError(ValueError):
    """Bytes that are not a builder state of this version (another version, or corrupt)."""


def dump_builder(builder: ModelBuilder) -> bytes:
    """The state of `builder` as bytes that `load_builder` reads back."""
    state = {
        "hints": dataclasses.asdict(builder.hints),
        "witness_count": builder.witness_count,
        "servers": sorted(builder.servers),
        "claims": {scheme: sorted(names) for scheme, names in sorted(builder.claims.items())},
        "hosts": {host: _dump_node(trie.root) for host, trie in builder.tries.items()},
    }
    return b"%s %d\n%s" % (_MAGIC, STATE_VERSION, zlib.compress(orjson.dumps(state)))


def load_builder(data: bytes) -> ModelBuilder:
    """The builder whose state `dump_builder` wrote; StateFormatError for another version or corrupt bytes."""
    header, _, body = data.partition(b"\n")
    magic, _, version = header.partition(b" ")
    if magic != _MAGIC:
        raise StateFormatError("not a builder state")
    if version != b"%d" % STATE_VERSION:
        raise StateFormatError(
            f"builder state of version {version.decode(errors='replace')}, this code reads {STATE_VERSION}"
        )
    try:
        state = orjson.loads(zlib.decompress(body))
        builder = ModelBuilder(PathHints(**state["hints"]))
        builder.witness_count = int(state["witness_count"])
        builder.servers = {str(server) for server in state["servers"]}
        builder.claims = {str(scheme): {str(name) for name in names} for scheme, names in state["claims"].items()}
        for host, node in state["hosts"].items():
            builder.trie(host).root = _load_node(node)
    except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise StateFormatError(f"corrupt builder state: {type(e).__name__}: {e}") from None
    return builder


def _dump_node(node: PathNode[EndpointStats]) -> dict[str, Any]:
    return {
        "static": {literal: _dump_node(child) for literal, child in node.static.items()},
        "params": {suffix: _dump_node(child) for suffix, child in node.params.items()},
        "value_schema": node.value_schema,
        "forced_name": node.forced_name,
        "pinned": node.pinned,
        "folded": node.folded,
        "echoed": node.echoed,
        "shapes": node.shapes,
        "parent_values": node.parent_values,
        "endpoints": {method: _dump_stats(stats) for method, stats in node.endpoints.items()},
    }


def _load_node(data: dict[str, Any]) -> PathNode[EndpointStats]:
    forced_name = data["forced_name"]
    return PathNode(
        static={str(literal): _load_node(child) for literal, child in data["static"].items()},
        params={str(suffix): _load_node(child) for suffix, child in data["params"].items()},
        value_schema=_schema(data["value_schema"]),
        forced_name=None if forced_name is None else str(forced_name),
        pinned=bool(data["pinned"]),
        folded=bool(data["folded"]),
        echoed=bool(data["echoed"]),
        shapes=[str(shape) for shape in data["shapes"]],
        parent_values=[int(value) for value in data["parent_values"]],
        endpoints={str(method): _load_stats(stats) for method, stats in data["endpoints"].items()},
    )


def _dump_stats(stats: EndpointStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        "first_seen": _iso(stats.first_seen),
        "last_seen": _iso(stats.last_seen),
        "query": _dump_fields(stats.query),
        "headers": _dump_fields(stats.headers),
        "cookies": _dump_fields(stats.cookies),
        "request_body": _dump_content(stats.request_body),
        "responses": {
            str(code): {"count": status.count, "content": _dump_content(status.content)}
            for code, status in stats.responses.items()
        },
        "auth": sorted(stats.auth),
        "latency": stats.latency.to_dict(),
        "timeline": stats.timeline.to_dict(),
    }


def _load_stats(data: dict[str, Any]) -> EndpointStats:
    return EndpointStats(
        count=int(data["count"]),
        first_seen=_moment(data["first_seen"]),
        last_seen=_moment(data["last_seen"]),
        query=_load_fields(data["query"]),
        headers=_load_fields(data["headers"]),
        cookies=_load_fields(data["cookies"]),
        request_body=_load_content(data["request_body"]),
        responses={
            int(code): StatusStats(count=int(status["count"]), content=_load_content(status["content"]))
            for code, status in data["responses"].items()
        },
        auth={str(scheme) for scheme in data["auth"]},
        latency=LatencySketch.from_dict(data["latency"]),
        timeline=Timeline.from_dict(data["timeline"]),
    )


def _dump_fields(fields: dict[str, FieldStats]) -> dict[str, Any]:
    return {name: {"count": item.count, "schema": item.schema} for name, item in fields.items()}


def _load_fields(data: dict[str, Any]) -> dict[str, FieldStats]:
    return {str(name): FieldStats(int(item["count"]), _schema(item["schema"])) for name, item in data.items()}


def _dump_content(content: dict[str, BodyStats]) -> dict[str, Schema | None]:
    # a body's cache of shapes already folded in is left out: it refills as witnesses come
    return {media: body.schema for media, body in content.items()}


def _load_content(data: dict[str, Any]) -> dict[str, BodyStats]:
    return {str(media): BodyStats(_schema(schema)) for media, schema in data.items()}


def _schema(value: object) -> Schema | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"a schema must be an object or null, not {type(value).__name__}")
    return value


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)
