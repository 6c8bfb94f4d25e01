"""The check of uploaded witnesses: what `witness_from_entry` makes passes; anything that could hold a value, or
that a witness of this format never holds, is refused naming the field; no input makes it raise anything else."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apimodel import InvalidEntry, redact_entry, witness_from_entry
from apimodel.har import har_entries
from apimodel.witness_form import WITNESS_KEYS, check_witness, read_bodies, witness_json

FIXTURES = Path(__file__).parent.parent / "fixtures"


ENTRY = {
    "startedDateTime": "2026-01-05T12:00:00.000Z",
    "time": 12.5,
    "request": {
        "method": "POST",
        "url": "https://api.shop.test/v1/orders/o-1?page=2",
        "headers": [
            {"name": "X-Api-Key", "value": "k-123"},
            {"name": "Content-Type", "value": "application/json"},
            {"name": "Cookie", "value": "sid=abc"},
        ],
        "postData": {"mimeType": "application/json", "text": '{"id": "o-1", "items": [{"sku": 7}]}'},
    },
    "response": {
        "status": 201,
        "headers": [{"name": "Content-Type", "value": "application/json; charset=utf-8"}],
        "content": {"mimeType": "application/json", "text": '{"id": "o-1", "total": 9.5}'},
    },
}


def made(**changes: Any) -> dict:
    """The witness of ENTRY (JSON body, query, an API-key header, a cookie) as the agent uploads it, after
    `changes` to the witness made: dotted paths → new values (`"request.body.enum": [...]`); "<delete>" deletes."""
    witness = copy.deepcopy(witness_from_entry(ENTRY))
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = witness
        for key in parents:
            target = target[key]
        if value == "<delete>":
            del target[last]
        else:
            target[last] = value
    for part in ("request", "response"):  # as uploaded (`witness_json`): bodies' schemas as JSON text
        message = witness.get(part)
        if isinstance(message, dict) and isinstance(message.get("body"), dict):
            message["body"] = json.dumps(message["body"], separators=(",", ":"))
    return witness


def refused(witness: object) -> str:
    with pytest.raises(InvalidEntry) as caught:
        check_witness(witness)
    return caught.value.field


def test_a_witness_as_uploaded_passes_and_reads_back_as_the_witness_made() -> None:
    witness = json.loads(witness_json(witness_from_entry(ENTRY)))
    assert witness == made()
    assert witness["auth"] == {"scheme": "apikey_header:x-api-key"}
    assert witness["path_echoes"] == [2]
    assert json.loads(witness["request"]["body"])["required"] == ["id", "items"]
    assert read_bodies(check_witness(witness)) == witness_from_entry(ENTRY)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.har")))
def test_every_fixture_entry_raw_and_redacted_makes_a_witness_that_passes(name: str) -> None:
    entries = list(har_entries((FIXTURES / name).read_bytes()))
    assert entries
    for entry in entries:
        for source in (entry, redact_entry(entry)):
            witness = json.loads(witness_json(witness_from_entry(source)))
            assert read_bodies(check_witness(witness)) == witness_from_entry(entry)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # values where only shapes go
        ({"request.body.enum": ["o-1"]}, "request.body.enum"),
        ({"request.body.properties.id.example": "o-1"}, "request.body.properties.id.example"),
        ({"response.body.properties.total.default": 9.5}, "response.body.properties.total.default"),
        (
            {"request.body.properties.items.items.properties.sku.const": 7},
            "request.body.properties.items.items.properties.sku.const",
        ),
        ({"request.headers.x-api-key": "k-123"}, "request.headers.x-api-key"),
        ({"request.headers.x-api-key": {"type": "string", "format": "k-123"}}, "request.headers.x-api-key.format"),
        ({"request.headers.content-type": {"type": "string"}}, "request.headers.content-type"),
        ({"query.page": "2"}, "query.page"),
        ({"query.page": {"type": "2"}}, "query.page.type"),
        ({"request.cookies": [{"sid": "abc"}]}, "request.cookies"),
        ({"request.body": "o-1"}, "request.body"),
        ({"request.body.required": ["id", "o-1"]}, "request.body.required"),
        ({"response.body.properties": ["id"]}, "response.body.properties"),
        ({"auth.scheme": "apikey_header:k-123"}, "auth.scheme"),
        ({"auth.token": "k-123"}, "auth.token"),
        ({"auth.claims": ["sub"]}, "auth.claims"),
        ({"response.content_type": "application/json; charset=utf-8"}, "response.content_type"),
        ({"started_at": "k-123"}, "started_at"),
        ({"values": {"id": "o-1"}}, "values"),
        ({"request.text": '{"id": "o-1"}'}, "request.text"),
        # shapes a witness never has
        ({"method": "post"}, "method"),
        ({"scheme": "ftp"}, "scheme"),
        ({"host": "API.shop.test"}, "host"),
        ({"host": "user@api.shop.test"}, "host"),
        ({"path": "/v1/orders?id=o-1"}, "path"),
        ({"path": "v1"}, "path"),
        ({"path": "/" + "a" * 2000}, "path"),
        ({"path_echoes": [3]}, "path_echoes"),
        ({"path_echoes": [2, 2]}, "path_echoes"),
        ({"path_echoes": [True]}, "path_echoes"),
        ({"response.status": 99}, "response.status"),
        ({"response.status": "201"}, "response.status"),
        ({"request.size": -1}, "request.size"),
        ({"request.size": True}, "request.size"),
        ({"time_ms": "12.5"}, "time_ms"),
        ({"request.headers.X-Api-Key": None}, "request.headers.X-Api-Key"),
        ({"request.body.type": ["string", ["object"]]}, "request.body.type"),
        ({"response": "<delete>"}, "response"),
        ({"request.body": None, "request.size": "<delete>"}, "request.size"),
    ],
)
def test_what_a_witness_never_holds_is_refused_naming_the_field(changes: dict, field: str) -> None:
    assert refused(made(**changes)) == field


def test_schemas_nest_no_deeper_than_inference_makes_them() -> None:
    deep: dict = {"type": "string"}
    for _ in range(14):
        deep = {"type": "array", "items": deep}
    assert refused(made(**{"request.body": deep})).startswith("request.body.items.items")


def test_what_is_not_a_witness_is_refused() -> None:
    assert refused([]) == ""
    assert refused(made(**{"request": [1]})) == "request"


@pytest.mark.parametrize("text", ["{", '"o-1"', '{"type": "string", "enum": ["o-1"]}', "[" * 100_000])
def test_a_body_text_that_is_not_a_schema_is_refused(text: str) -> None:
    witness = made()
    witness["request"]["body"] = text
    assert refused(witness).startswith("request.body")


def test_a_body_schema_is_at_most_as_large_as_inference_keeps_it() -> None:
    witness = made()
    witness["request"]["body"] = json.dumps({"type": "object", "properties": {"x" * 70_000: {}}})
    assert refused(witness) == "request.body"


def mutations(witness: dict) -> st.SearchStrategy[dict]:
    """The witness with one of its parts, at any depth, replaced by junk."""
    junk = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda c: (
            st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["type", "format", "x", "id"]), c, max_size=3)
        ),
        max_leaves=6,
    )
    paths: list[tuple[str, ...]] = []

    def walk(value: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))

    walk(witness, ())

    def mutate(path: tuple[str, ...], value: object) -> dict:
        changed = copy.deepcopy(witness)
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return changed

    return st.builds(mutate, st.sampled_from(paths[1:]), junk)


@settings(max_examples=300, deadline=None)
@given(mutations(made()))
def test_junk_anywhere_is_a_witness_or_invalid_entry_naming_a_field_of_it(witness: dict) -> None:
    try:
        check_witness(witness)
    except InvalidEntry as error:
        assert error.field.split(".")[0] in WITNESS_KEYS
