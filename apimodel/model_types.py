"""The shape of the API model JSON that `ModelBuilder.result()` returns."""

from typing import Any, Literal, NotRequired, TypedDict

from apimodel.timeline import TimelineModel

JSONSchema = dict[str, Any]


ParameterLocation = Literal["path", "query", "header", "cookie"]

# "in" is a Python keyword, hence the functional form. `x-pawprint-sensitive`: the kind of
# personal or secret data the parameter carries (`sensitive.KINDS`), when its name or format says so.
Parameter = TypedDict(
    "Parameter",
    {
        "name": str,
        "in": ParameterLocation,
        "required": bool,
        "schema": JSONSchema,
        "x-pawprint-sensitive": NotRequired[str],
    },
)


class Response(TypedDict):
    """Responses of one status code: how many, and body schema per content type."""

    count: int
    content: dict[str, JSONSchema]


class Latency(TypedDict):
    """Nearest-rank latency percentiles in milliseconds (None when no timings were seen): exact up
    to `latency.EXACT_LIMIT` timed requests, within 1 % beyond."""

    p50: float | None
    p90: float | None
    p99: float | None


class Endpoint(TypedDict):
    """One method on one path template of one host."""

    method: str
    host: str
    path: str
    parameters: list[Parameter]
    request_body: dict[str, JSONSchema]
    responses: dict[str, Response]
    auth: list[str]
    #: kinds of personal or secret data (`sensitive.KINDS`: `email`, `card_number`, `secret`, …) that a
    #: parameter or a request or response field carries, sorted; each such part has `x-pawprint-sensitive`
    sensitive: list[str]
    count: int
    #: ISO 8601 in UTC (`2024-01-01T08:00:00.250000Z`)
    first_seen: str | None
    last_seen: str | None
    latency_ms: Latency
    #: requests, 5xx responses and p99 per time bucket (`timeline.Timeline`)
    timeline: TimelineModel


class ApiModel(TypedDict):
    """The whole model: endpoints sorted by (host, path, method)."""

    witness_count: int
    servers: list[str]
    endpoints: list[Endpoint]
    security_schemes: dict[str, dict[str, Any]]
