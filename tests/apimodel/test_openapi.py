import json
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from apimodel.openapi import openapi_json, openapi_yaml, to_openapi

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"


def test_it_exports_the_small_har_as_valid_openapi(model_of) -> None:
    document = to_openapi(model_of(json.loads(SMALL_HAR.read_text())["log"]["entries"]), title="Shop")
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://api.shop.test"}]
    operation = document["paths"]["/v1/users/{user_id}"]["get"]
    assert operation["parameters"][0] == {
        "name": "user_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    assert set(operation["responses"]) == {"200", "404"}
    assert operation["security"] == [{"jwt": []}]


def test_it_sanitises_security_scheme_names(make_entry, model_of) -> None:
    document = to_openapi(model_of([make_entry(headers={"X-Api-Key": "k"}), make_entry()]), title="T")
    validate(document)
    assert document["components"]["securitySchemes"] == {
        "apikey_header_x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"}
    }
    assert document["paths"]["/"]["get"]["security"] == [{"apikey_header_x-api-key": []}, {}]


def test_it_merges_one_path_on_two_hosts_into_one_operation(make_entry, model_of) -> None:
    model = model_of(
        [
            make_entry(url="https://a.example/items/1?q=x", response_json={"id": 1}),
            make_entry(url="https://b.example/items/2", status=404, response_json={"error": "no"}),
        ]
    )
    document = to_openapi(model, title="T", version="2")
    validate(document)
    assert [s["url"] for s in document["servers"]] == ["https://a.example", "https://b.example"]
    operation = document["paths"]["/items/{item_id}"]["get"]
    assert set(operation["responses"]) == {"200", "404"}
    assert {p["name"]: p["required"] for p in operation["parameters"]} == {"item_id": True, "q": False}


def test_it_exports_request_bodies_and_empty_responses(make_entry, model_of) -> None:
    document = to_openapi(
        model_of([make_entry("POST", "https://a.example/notes", 204, request_json={"text": "hi"})]), title="T"
    )
    validate(document)
    operation = document["paths"]["/notes"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["properties"] == {
        "text": {"type": "string"}
    }
    assert operation["responses"]["204"] == {"description": "No Content"}


def test_it_exports_an_empty_model() -> None:
    document = to_openapi({}, title="Nothing yet")
    validate(document)
    assert document["paths"] == {}


def test_each_path_lists_only_the_hosts_it_was_seen_on(make_entry, model_of) -> None:
    model = model_of(
        [
            make_entry(url="https://a.example/items/1"),
            make_entry("POST", "https://a.example/items/1"),
            make_entry(url="http://b.example:8080/items/2"),
            make_entry(url="https://b.example:8080/health-report"),
            make_entry(url="https://a.example/only-a"),
        ]
    )
    document = to_openapi(model, title="T")
    validate(document)
    a, b_http, b_https = (
        {"url": "https://a.example"},
        {"url": "http://b.example:8080"},
        {"url": "https://b.example:8080"},
    )
    assert document["servers"] == [b_http, a, b_https]
    items = document["paths"]["/items/{item_id}"]
    assert items["servers"] == [a, b_http, b_https]
    assert "servers" not in items["get"]
    assert items["post"]["servers"] == [a]
    assert document["paths"]["/only-a"]["servers"] == [a]
    assert document["paths"]["/health-report"]["servers"] == [b_http, b_https]


def test_one_host_keeps_its_servers_on_the_document_only(make_entry, model_of) -> None:
    document = to_openapi(
        model_of([make_entry(url="https://a.example/x"), make_entry("POST", "https://a.example/y")]), title="T"
    )
    assert document["servers"] == [{"url": "https://a.example"}]
    assert all(
        "servers" not in item and "servers" not in op for item in document["paths"].values() for op in item.values()
    )


def test_a_model_without_servers_gets_https_ones_per_host() -> None:
    endpoint = {
        "method": "GET",
        "path": "/x",
        "parameters": [],
        "request_body": {},
        "responses": {"200": {"count": 1, "content": {}}},
        "auth": [],
    }
    model = {"endpoints": [{**endpoint, "host": "a.example"}, {**endpoint, "host": "b.example", "path": "/y"}]}
    document = to_openapi(model, title="T")
    validate(document)
    assert document["paths"]["/y"]["servers"] == [{"url": "https://b.example"}]


JSON_KEYS = st.text()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(JSON_KEYS, children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4), st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4))
def test_the_written_json_and_yaml_read_back_as_the_document(top: dict, paths: dict) -> None:
    document = {**{key: value for key, value in top.items() if key != "paths"}, "paths": paths}
    assert json.loads(b"".join(openapi_json(document))) == document
    assert yaml.safe_load(b"".join(openapi_yaml(document))) == document


def test_the_yaml_leaves_only_unambiguous_words_unquoted() -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {"/v1/items/{id}": {"get": {"responses": {"200": {"description": "OK"}}}}},
        "words": ["no", "On", "null", "1e3", "2026-01-05", "a: b", " lead", "x\u2028y", "line\nbreak", ""],
    }
    text = b"".join(openapi_yaml(document)).decode()
    assert text.startswith("openapi: 3.1.0\npaths:\n")
    assert '"200":\n' in text and "description: OK\n" in text
    assert yaml.safe_load(text) == document
