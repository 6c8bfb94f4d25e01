import json
from pathlib import Path

from openapi_spec_validator import validate

from apimodel import to_openapi

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
