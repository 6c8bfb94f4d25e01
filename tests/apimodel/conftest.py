"""A factory for small HAR 1.2 entries, so each test states only what it is about."""

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from apimodel import ModelBuilder, PathHints, witness_from_entry

Entry = dict[str, Any]


def _entry(
    method: str = "GET",
    url: str = "https://api.example.com/",
    status: int = 200,
    *,
    headers: dict[str, str] | None = None,
    request_json: object = None,
    post_data: dict[str, Any] | None = None,
    response_json: object = None,
    response_headers: dict[str, str] | None = None,
    started: str = "2024-01-01T00:00:00.000Z",
    time: float = 10.0,
) -> Entry:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": -1,
    }
    if request_json is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(request_json)}
    if post_data is not None:
        request["postData"] = post_data
    content: dict[str, Any] = {"size": 0, "mimeType": ""}
    if response_json is not None:
        text = json.dumps(response_json)
        content = {"size": len(text), "mimeType": "application/json", "text": text}
    return {
        "startedDateTime": started,
        "time": time,
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in (response_headers or {}).items()],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 1, "wait": time - 2, "receive": 1},
    }


@pytest.fixture(scope="session")
def make_entry() -> Callable[..., Entry]:
    """`make_entry(method, url, status, headers=…, request_json=…, response_json=…)`."""
    return _entry


def _templates(urls: list[str], hints: PathHints | None = None, method: str = "GET") -> set[str]:
    builder = ModelBuilder(hints)
    for url in urls:
        builder.add(witness_from_entry(_entry(method, url)))
    return {endpoint["path"] for endpoint in builder.result()["endpoints"]}


@pytest.fixture(scope="session")
def templates_of() -> Callable[..., set[str]]:
    """`templates_of([url, …], hints=None)`: the path templates a model finds for GETs."""
    return _templates


def _model(entries: list[Entry]) -> dict[str, Any]:
    builder = ModelBuilder()
    for entry in entries:
        builder.add(witness_from_entry(entry))
    return dict(builder.result())


@pytest.fixture(scope="session")
def model_of() -> Callable[[list[Entry]], dict[str, Any]]:
    """`model_of([entry, …])`: the model built from HAR entries."""
    return _model


def _only_endpoint(entries: list[Entry]) -> dict[str, Any]:
    (endpoint,) = _model(entries)["endpoints"]
    return dict(endpoint)


@pytest.fixture(scope="session")
def endpoint_of() -> Callable[[list[Entry]], dict[str, Any]]:
    """`endpoint_of([entry, …])`: the one endpoint of the model built from HAR entries."""
    return _only_endpoint


_WORDS = ["users", "orders", "items", "me", "search", "internal", "export.csv"]
_FIELDS = ["id", "name", "email", "password", "tags", "price", "next_page_token"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(-1e3, 1e3) | st.sampled_from(["x", "ada@a.example"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), children, max_size=4),
    max_leaves=8,
)
_segment = st.sampled_from(_WORDS) | st.integers(1, 10**6).map(str) | st.uuids().map(str)


@st.composite
def _witnesses(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random traffic as witnesses: two hosts, static and id segments, queries, headers, JSON bodies,
    statuses, auth, and calls repeated with their own timings (past the latency's exact limit)."""
    witnesses = []
    for _ in range(draw(st.integers(1, 20))):
        host = draw(st.sampled_from(["https://a.example", "http://b.example:8080"]))
        path = "/".join(draw(st.lists(_segment, max_size=3)))
        query = "&".join(f"{name}=1" for name in draw(st.lists(st.sampled_from(["q", "page", "email"]), max_size=2)))
        headers = draw(st.dictionaries(st.sampled_from(["X-Trace", "Authorization", "X-Api-Key"]), st.just("k")))
        body = draw(_json) if draw(st.booleans()) else None
        entry = _entry(
            draw(st.sampled_from(["GET", "POST"])),
            f"{host}/{path}?{query}",
            draw(st.sampled_from([200, 201, 404])),
            headers=headers,
            request_json=body,
            response_json=draw(_json),
        )
        witness = witness_from_entry(entry)
        started = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=draw(st.integers(0, 10**7)))
        for i, time_ms in enumerate(draw(st.lists(st.none() | st.floats(0, 1e4), min_size=1, max_size=12))):
            moment = started + dt.timedelta(milliseconds=i)
            witnesses.append({**witness, "started_at": moment.isoformat(), "time_ms": time_ms})
    return witnesses


_HINTS = [PathHints(), PathHints(force=["/users/{who}/items"], static=["/users/me"], hidden=["/internal"])]


@pytest.fixture(scope="session")
def random_traffic() -> st.SearchStrategy[tuple[PathHints, list[dict[str, Any]]]]:
    """A hypothesis strategy of (path hints, random traffic as witnesses); draw it with `st.data()`."""
    return st.tuples(st.sampled_from(_HINTS), _witnesses())


def _model_json(builder: ModelBuilder) -> str:
    return json.dumps(builder.result(), sort_keys=True)


@pytest.fixture(scope="session")
def model_json() -> Callable[[ModelBuilder], str]:
    """`model_json(builder)`: the builder's model as canonical JSON, to compare models."""
    return _model_json
