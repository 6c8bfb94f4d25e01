"""What the model remembers about one endpoint, folded from witnesses one at a time."""

import datetime as dt
import marshal
from dataclasses import dataclass, field
from typing import Any

from apimodel.auth import is_credential
from apimodel.latency import LatencySketch
from apimodel.model_types import Endpoint, Parameter, ParameterLocation, Response
from apimodel.paths import PathParam
from apimodel.schema import Schema, meld
from apimodel.sensitive import SENSITIVE, mark_schema, schema_kind
from apimodel.timeline import Timeline

_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
# bounds per endpoint and location: names past these (cache busters, ids as names) are ignored
MAX_FIELDS = 100
MAX_CONTENT_TYPES = 16
# witness body shapes remembered per content type as already folded in
MAX_SEEN_SHAPES = 64


@dataclass
class FieldStats:
    """A parameter seen `count` times, with the meld of its schemas."""

    count: int = 0
    schema: Schema | None = None


@dataclass
class BodyStats:
    """The melded body schema of one content type (None: no body seen)."""

    schema: Schema | None = None
    # Recent witness schemas (by their marshal bytes) that melding showed to add nothing: most
    # bodies repeat a shape already folded in, and looking it up is far cheaper than melding again.
    seen: dict[bytes, None] = field(default_factory=dict)

    def add(self, schema: Schema | None) -> None:
        if schema is None:
            return
        current = self.schema
        if current is None:
            self.schema = schema
            return
        key = marshal.dumps(schema, 2)
        if key in self.seen:
            return
        melded = meld(current, schema)
        if melded == current:
            self.seen[key] = None
            if len(self.seen) > MAX_SEEN_SHAPES:
                del self.seen[next(iter(self.seen))]
        else:
            self.schema = melded
            self.seen.clear()

    # `seen` is a cache: pickled builders and the copies `result()` folds do without it
    def __getstate__(self) -> dict[str, Any]:
        return {"schema": self.schema}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.schema = state["schema"]
        self.seen = {}


@dataclass
class StatusStats:
    """The responses of one status code: how many, and their bodies per content type."""

    count: int = 0
    content: dict[str, BodyStats] = field(default_factory=dict)


def _add_field(fields: dict[str, FieldStats], name: str, schema: Schema | None, count: int = 1) -> None:
    item = fields.get(name)
    if item is None:
        if len(fields) >= MAX_FIELDS:
            return
        item = fields[name] = FieldStats()
    item.count += count
    # None means "no schema seen", which any schema replaces
    current = item.schema
    if current is None:
        item.schema = schema
    elif schema is not None and schema != current:
        item.schema = meld(current, schema)


def _add_content(content: dict[str, BodyStats], media: str, schema: Schema | None) -> None:
    body = content.get(media)
    if body is None:
        if len(content) >= MAX_CONTENT_TYPES:
            return
        body = content[media] = BodyStats()
    body.add(schema)


def _merge_fields(into: dict[str, FieldStats], other: dict[str, FieldStats]) -> None:
    for name, item in other.items():
        _add_field(into, name, item.schema, item.count)


def _merge_content(into: dict[str, BodyStats], other: dict[str, BodyStats]) -> None:
    for media, body in other.items():
        _add_content(into, media, body.schema)


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    # naive HAR timestamps are taken as UTC so they compare with aware ones
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass
class EndpointStats:
    """Counts, parameters, bodies, responses, auth, latency and traffic over time of one endpoint."""

    count: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    query: dict[str, FieldStats] = field(default_factory=dict)
    headers: dict[str, FieldStats] = field(default_factory=dict)
    cookies: dict[str, FieldStats] = field(default_factory=dict)
    request_body: dict[str, BodyStats] = field(default_factory=dict)
    responses: dict[int, StatusStats] = field(default_factory=dict)
    auth: set[str] = field(default_factory=set)
    latency: LatencySketch = field(default_factory=LatencySketch)
    timeline: Timeline = field(default_factory=Timeline)

    def add(self, witness: dict[str, Any]) -> None:
        """Fold one witness in."""
        self.count += 1
        moment = _timestamp(witness.get("started_at"))
        self._seen(moment)
        self.auth.add(witness["auth"]["scheme"])
        # credentials are described by security schemes, not parameters
        for name, schema in witness["query"].items():
            if not is_credential("query", name):
                _add_field(self.query, name, schema)
        request = witness["request"]
        for name, schema in request["headers"].items():
            if schema is not None and not is_credential("header", name):
                _add_field(self.headers, name, schema)
        for name in request["cookies"]:
            if not is_credential("cookie", name):
                _add_field(self.cookies, name, {"type": "string"})
        if request["content_type"] and (request["size"] or request["body"] is not None):
            _add_content(self.request_body, request["content_type"], request["body"])
        response = witness["response"]
        status = self.responses.get(response["status"])
        if status is None:
            status = self.responses[response["status"]] = StatusStats()
        status.count += 1
        if response["content_type"] and (response["size"] or response["body"] is not None):
            _add_content(status.content, response["content_type"], response["body"])
        time_ms = witness.get("time_ms")
        if time_ms is not None:
            self.latency.add(time_ms)
        if moment is not None:
            self.timeline.add(moment, response["status"] >= 500, time_ms)

    def _seen(self, moment: dt.datetime | None) -> None:
        if moment is None:
            return
        if self.first_seen is None or moment < self.first_seen:
            self.first_seen = moment
        if self.last_seen is None or moment > self.last_seen:
            self.last_seen = moment

    def merge(self, other: "EndpointStats") -> None:
        """Absorb the stats of another endpoint (when paths fold into one template)."""
        self.count += other.count
        self._seen(other.first_seen)
        self._seen(other.last_seen)
        _merge_fields(self.query, other.query)
        _merge_fields(self.headers, other.headers)
        _merge_fields(self.cookies, other.cookies)
        _merge_content(self.request_body, other.request_body)
        for code, theirs in other.responses.items():
            mine = self.responses.setdefault(code, StatusStats())
            mine.count += theirs.count
            _merge_content(mine.content, theirs.content)
        self.auth |= other.auth
        self.latency.merge(other.latency)
        self.timeline.merge(other.timeline)

    def _parameters(self, location: ParameterLocation, fields: dict[str, FieldStats]) -> list[Parameter]:
        return [
            {
                "name": name,
                "in": location,
                "required": fields[name].count == self.count,
                "schema": fields[name].schema or {"type": "string"},
            }
            for name in sorted(fields)
        ]

    def to_model(self, method: str, host: str, path: str, path_params: list[PathParam]) -> Endpoint:
        """The endpoint as model JSON."""
        parameters: list[Parameter] = [
            {"name": p.name, "in": "path", "required": True, "schema": p.schema} for p in path_params
        ]
        parameters += self._parameters("query", self.query)
        parameters += self._parameters("header", self.headers)
        parameters += self._parameters("cookie", self.cookies)
        sensitive: set[str] = set()
        for parameter in parameters:
            kind = schema_kind(parameter["schema"], parameter["name"])
            if kind is not None:
                parameter[SENSITIVE] = kind
                sensitive.add(kind)

        def content(bodies: dict[str, BodyStats]) -> dict[str, Schema]:
            return {media: mark_schema(bodies[media].schema or {}, None, sensitive) for media in sorted(bodies)}

        responses: dict[str, Response] = {
            str(code): {"count": status.count, "content": content(status.content)}
            for code, status in sorted(self.responses.items())
        }
        quantiles = {name: self.latency.quantile(q) for name, q in _QUANTILES}
        return {
            "method": method,
            "host": host,
            "path": path,
            "parameters": parameters,
            "request_body": content(self.request_body),
            "responses": responses,
            "auth": sorted(self.auth),
            "sensitive": sorted(sensitive),
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "latency_ms": {
                "p50": _round(quantiles["p50"]),
                "p90": _round(quantiles["p90"]),
                "p99": _round(quantiles["p99"]),
            },
            "timeline": self.timeline.to_model(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
