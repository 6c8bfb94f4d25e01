"""Any input gives a witness or InvalidEntry; redacting never changes the witness (nor which path segments
the bodies name), nor do the memos behind it; every witness made passes the control plane's check of uploaded
witnesses, as the agent uploads it."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from apimodel import InvalidEntry, redact_entry, witness, witness_from_entry
from apimodel.formats import placeholder
from apimodel.witness_form import check_witness, read_bodies, witness_json

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["42", "-3", "4.5", "true", "ada@example.org", "2024-01-31", "2024-01-31T10:00:00Z", "192.0.2.7", "+4930123456"]
    ),
    st.sampled_from([placeholder("uuid"), placeholder("jwt"), "9f86d081884c7d659a2feaa0c55ad015"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)
pairs = st.lists(st.tuples(names, texts), max_size=4)
header_names = names | st.sampled_from(["Cookie", "Set-Cookie", "Authorization", "X-Api-Key", "Content-Type"])
header_values = texts | st.sampled_from(
    ["Bearer abc", "Basic YTpi", "a=1; b", "x=1; Path=/", f"Bearer {placeholder('jwt')}"]
)
headers = st.lists(st.tuples(header_names, header_values), max_size=5)


words = st.from_regex(r"[a-z][a-z-]{0,8}", fullmatch=True)
identifier_names = st.sampled_from(["id", "name", "slug", "owner_login", "teamId", "type", "note"])


def naming(segments: list[str]) -> st.SearchStrategy[object]:
    """Objects whose identifier fields may hold path segments, at the top or nested."""
    value = st.sampled_from(segments) | texts if segments else texts
    fields = st.dictionaries(identifier_names, value, min_size=1, max_size=3)
    return st.recursive(
        fields, lambda inner: st.dictionaries(identifier_names, inner | value, max_size=2), max_leaves=6
    )


@st.composite
def entries(draw: st.DrawFn) -> dict:
    query = "&".join(f"{quote(n)}={quote(v)}" for n, v in draw(pairs))
    segments = draw(st.lists(texts | words, max_size=4))
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    media = draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
    body = draw(naming(segments) | json_values)
    form = draw(pairs | st.lists(st.tuples(identifier_names, st.sampled_from(segments or ["x"])), max_size=3))
    text = json.dumps(body) if media == "application/json" else "&".join(f"{n}={quote(v)}" for n, v in form)
    return {
        "startedDateTime": "2024-01-01T00:00:00Z",
        "time": draw(st.floats(min_value=0, max_value=1e5)),
        "request": {
            "method": draw(st.sampled_from(["GET", "POST", "patch"])),
            "url": f"https://api.example.com{path}" + (f"?{query}" if query else ""),
            "headers": [{"name": n, "value": v} for n, v in draw(headers)],
            "postData": {"mimeType": media, "text": text},
        },
        "response": {
            "status": draw(st.integers(100, 599)),
            "headers": [{"name": n, "value": v} for n, v in draw(headers)],
            "content": {"mimeType": "application/json", "text": json.dumps(draw(naming(segments) | json_values))},
        },
    }


@settings(max_examples=150, deadline=None)
@given(entries())
def test_redacting_any_entry_keeps_its_witness(entry: dict) -> None:
    assert witness_from_entry(redact_entry(entry)) == witness_from_entry(entry)


def assert_uploadable(witness: dict) -> None:
    """The witness as the agent uploads it passes the check, and reads back as the witness made."""
    assert read_bodies(check_witness(json.loads(witness_json(witness)))) == witness


@settings(max_examples=150, deadline=None)
@given(entries())
def test_every_witness_made_passes_the_upload_check_and_round_trips(entry: dict) -> None:
    assert_uploadable(witness_from_entry(entry))


MEMOS: list[witness._Memo[Any, Any]] = [witness._json_bodies, witness._message_headers_seen, witness._witness_urls]


@contextmanager
def memos_off() -> Iterator[None]:
    """Every memo computes afresh and keeps nothing (no key fits in 0 bytes)."""
    sizes = [memo.max_bytes for memo in MEMOS]
    for memo in MEMOS:
        memo.max_bytes = 0
    try:
        yield
    finally:
        for memo, size in zip(MEMOS, sizes, strict=True):
            memo.max_bytes = size


@settings(max_examples=150, deadline=None)
@given(entries())
def test_a_remembered_witness_is_the_one_computed_afresh(entry: dict) -> None:
    first, again = witness_from_entry(entry), witness_from_entry(entry)
    with memos_off():
        fresh = witness_from_entry(entry)
    assert first == again == fresh


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["name", "value", "text", "x"]), c, max_size=3),
    max_leaves=8,
)


def maybe_junk(value: object) -> st.SearchStrategy[object]:
    return st.just(value) | junk


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "time": maybe_junk(1.5),
            "timings": maybe_junk({"wait": 1}),
            "startedDateTime": maybe_junk("2024-01-01T00:00:00Z"),
            "request": st.fixed_dictionaries(
                {
                    "method": maybe_junk("GET"),
                    "url": maybe_junk("https://a.example/x?y=1") | st.text(max_size=20).map(lambda t: "http://" + t),
                    "headers": maybe_junk([{"name": "X-A", "value": "1"}]),
                    "cookies": maybe_junk([{"name": "c", "value": "1"}]),
                    "postData": maybe_junk({"mimeType": "application/json", "text": "{}"}),
                    "bodySize": maybe_junk(2),
                }
            ),
            "response": st.fixed_dictionaries(
                {
                    "status": maybe_junk(200),
                    "headers": maybe_junk([]),
                    "content": maybe_junk({"mimeType": "application/json", "text": "[1]", "encoding": "base64"}),
                }
            ),
        }
    )
)
def test_it_answers_malformed_entries_with_a_witness_or_invalid_entry(entry: dict) -> None:
    try:
        witness = witness_from_entry(entry)
    except InvalidEntry:
        return
    json.dumps(witness, allow_nan=False)
    assert witness_from_entry(redact_entry(entry)) == witness
    assert_uploadable(witness)
