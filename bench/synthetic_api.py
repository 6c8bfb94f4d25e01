"""Deterministic traffic of a made-up API, as HAR 1.2 entries.

The API has nested resources with integer, UUID and hex ids, static action and search
routes, query parameters, JSON bodies and bearer-JWT / API-key / no auth. Every word is
invented here (`api.pawbench.test`, `/v2/quasars/...`), none comes from a real recording.
"""

import base64
import itertools
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

HOST = "api.pawbench.test"
COLLECTIONS = [
    "quasars", "lanterns", "quills", "harbors", "meadows", "tundras", "glyphs", "ferries",
    "orchards", "beacons", "pylons", "kettles", "prisms", "sonnets", "vaults", "dunes",
    "gazebos", "zephyrs", "marbles", "lagoons", "comets", "thimbles", "burrows", "canopies",
]  # fmt: skip
SUBRESOURCES = ["notes", "ledgers", "badges", "tallies", "ripples", "sketches", "parcels", "embers"]
ACTIONS = ["archive", "restore", "polish", "rotate", "seal"]
FIELD_KINDS = ["string", "integer", "number", "boolean", "email", "datetime", "uuid", "uri", "nullable", "tags"]
FIELD_WORDS = [
    "title", "caption", "weight", "depth", "glow", "owner_email", "opened_at", "ref", "homepage",
    "motto", "hue", "rank", "is_shiny", "parent_ref", "closed_at", "labels", "score", "nickname",
]  # fmt: skip
ID_KINDS = ["int", "uuid", "hex"]
API_KEY_HEADER = "X-Pawbench-Key"


@dataclass
class Endpoint:
    """One route of the synthetic API: `segments` are literals or an id kind in braces (`{int}`)."""

    method: str
    segments: list[str]
    auth: str  # bearer | apikey | none
    fields: dict[str, str]
    optional: frozenset[str]
    query: list[str] = field(default_factory=list)
    is_list: bool = False

    @property
    def template(self) -> str:
        return "/" + "/".join(self.segments)


def _fields(rng: random.Random) -> tuple[dict[str, str], frozenset[str]]:
    names = rng.sample(FIELD_WORDS, rng.randint(3, 8))
    fields = {"id": "uuid", **{name: rng.choice(FIELD_KINDS) for name in names}}
    return fields, frozenset(rng.sample(names, len(names) // 3))


def endpoints(count: int = 200, seed: int = 7) -> list[Endpoint]:
    """`count` distinct endpoints, the same ones for the same seed."""
    rng = random.Random(seed)
    candidates: list[Endpoint] = []
    for name in COLLECTIONS:
        kind = rng.choice(ID_KINDS)
        auth = rng.choices(["bearer", "apikey", "none"], weights=[6, 3, 1])[0]
        base = ["v2", name]
        item = [*base, "{" + kind + "}"]

        def add(method: str, segments: list[str], is_list: bool = False, query: list[str] | None = None) -> None:
            fields, optional = _fields(rng)
            candidates.append(Endpoint(method, segments, auth, fields, optional, query or [], is_list))  # noqa: B023

        add("GET", base, is_list=True, query=["limit", "cursor", "sort"])
        add("POST", base)
        add("GET", [*base, "search"], is_list=True, query=["q", "limit"])
        for method in ("GET", "PATCH", "DELETE", "PUT"):
            add(method, item)
        for action in rng.sample(ACTIONS, 2):
            add("POST", [*item, action])
        for sub in rng.sample(SUBRESOURCES, 3):
            sub_kind = rng.choice(ID_KINDS)
            add("GET", [*item, sub], is_list=True, query=["limit"])
            add("POST", [*item, sub])
            add("GET", [*item, sub, "{" + sub_kind + "}"])
            add("DELETE", [*item, sub, "{" + sub_kind + "}"])
    if count > len(candidates):
        raise ValueError(f"at most {len(candidates)} endpoints")
    rng.shuffle(candidates)
    chosen = candidates[:count]
    chosen.sort(key=lambda e: (e.template, e.method))
    return chosen


def fresh_id(kind: str, rng: random.Random) -> str:
    """A new path id of the kind `{int}`, `{uuid}` or `{hex}`."""
    if kind == "{int}":
        return str(rng.randint(1, 9_999_999))
    if kind == "{uuid}":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return f"{rng.getrandbits(96):024x}"


def _value(kind: str, rng: random.Random) -> Any:
    if kind == "string":
        return "".join(rng.choice("abcdefghijklmnop ") for _ in range(rng.randint(3, 24)))
    if kind == "integer":
        return rng.randint(-1000, 100_000)
    if kind == "number":
        return round(rng.uniform(0, 1000), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "email":
        return f"user{rng.randint(1, 99999)}@pawbench.test"
    if kind == "datetime":
        return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**7))).isoformat()
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "uri":
        return f"https://cdn.pawbench.test/{rng.getrandbits(32):08x}"
    if kind == "nullable":
        return None if rng.random() < 0.5 else "x" * rng.randint(1, 9)
    return [rng.choice(["red", "blue", "green"]) for _ in range(rng.randint(0, 3))]


def _record(endpoint: Endpoint, rng: random.Random) -> dict[str, Any]:
    return {
        name: _value(kind, rng)
        for name, kind in endpoint.fields.items()
        if name not in endpoint.optional or rng.random() < 0.6
    }


_JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    claims = {"sub": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "exp": 1_900_000_000, "scope": "pawbench"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{_JWT_HEADER}.{payload}.{rng.getrandbits(256):064x}"


def _json(body: Any) -> dict[str, Any]:
    text = json.dumps(body)
    return {"size": len(text), "mimeType": "application/json", "text": text}


def _status(endpoint: Endpoint, rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.03:
        return 404
    if roll < 0.05 and endpoint.method in ("POST", "PATCH", "PUT"):
        return 422
    if endpoint.method == "DELETE":
        return 204
    return 201 if endpoint.method == "POST" else 200


def entry(endpoint: Endpoint, rng: random.Random, started: datetime) -> dict[str, Any]:
    """One HAR 1.2 entry of a call to `endpoint` with fresh ids and values."""
    path = "/".join(fresh_id(s, rng) if s.startswith("{") else s for s in endpoint.segments)
    query = [{"name": name, "value": str(rng.randint(1, 500))} for name in endpoint.query if rng.random() < 0.7]
    url = f"https://{HOST}/{path}" + ("?" + "&".join(f"{q['name']}={q['value']}" for q in query) if query else "")
    headers = [{"name": "Accept", "value": "application/json"}, {"name": "User-Agent", "value": "pawbench/1.0"}]
    if endpoint.auth == "bearer":
        headers.append({"name": "Authorization", "value": "Bearer " + _jwt(rng)})
    elif endpoint.auth == "apikey":
        headers.append({"name": API_KEY_HEADER, "value": f"{rng.getrandbits(128):032x}"})
    request: dict[str, Any] = {
        "method": endpoint.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "headers": headers,
        "queryString": query,
        "cookies": [],
        "headersSize": -1,
        "bodySize": 0,
    }
    if endpoint.method in ("POST", "PATCH", "PUT"):
        body = json.dumps({k: v for k, v in _record(endpoint, rng).items() if k != "id"})
        request["postData"] = {"mimeType": "application/json", "text": body}
        request["bodySize"] = len(body)
    status = _status(endpoint, rng)
    if status >= 400:
        content = _json({"error": {"code": "nope", "message": "Not here."}})
    elif status == 204:
        content = {"size": 0, "mimeType": ""}
    elif endpoint.is_list:
        records = [_record(endpoint, rng) for _ in range(rng.randint(0, 3))]
        content = _json({"items": records, "next_cursor": None if rng.random() < 0.3 else f"{rng.getrandbits(64):x}"})
    else:
        content = _json(_record(endpoint, rng))
    wait = round(rng.lognormvariate(3, 0.6), 3)
    response_headers = [{"name": "Content-Type", "value": content["mimeType"]}] if content["mimeType"] else []
    return {
        "startedDateTime": started.isoformat().replace("+00:00", "Z"),
        "time": round(wait + 2, 3),
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": response_headers,
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": content["size"],
        },
        "cache": {},
        "timings": {"send": 1, "wait": wait, "receive": 1},
    }


def traffic(count: int, *, endpoint_count: int = 200, seed: int = 7, stream: int = 0) -> Iterator[dict[str, Any]]:
    """`count` HAR entries spread over the endpoints (some much busier than others), lazily.

    The API depends on `seed` only; `stream` picks another deterministic sequence of calls to it.
    """
    routes = endpoints(endpoint_count, seed)
    rng = random.Random(f"{seed}-{stream}")
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(routes))]  # a long tail, like real traffic
    random.Random(seed).shuffle(weights)  # the same busy endpoints in every stream
    cumulative = list(itertools.accumulate(weights))
    started = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for index in range(count):
        # every endpoint is called at least once, then by weight
        route = routes[index] if index < len(routes) else rng.choices(routes, cum_weights=cumulative)[0]
        yield entry(route, rng, started + timedelta(milliseconds=37 * index))
