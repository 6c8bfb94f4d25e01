"""The witness upload on the production stack (bench/stack.py: gunicorn + uvicorn workers, PostgreSQL), where it is
served whole on the event loop, without Django's middleware (`projects.gate.served_whole`): gzip bodies inflated,
batches stored once, bad input and bad keys answered as everywhere else in the API."""

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.urls import resolve

from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT, witness_json
from bench.stack import Stack, production_stack
from tests.e2e.test_long_poll_stack import database_query, project_with_keys
from traces.api import ENTRY_EXAMPLE


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with production_stack(worker=False, beat=False) as stack:
        yield stack


def upload(stack: Stack, key: tuple[str, str], trace_id: str, batch: dict[str, Any], **headers: str) -> Any:
    return requests.post(
        f"{stack.url}/api/v1/projects/shop/traces/{trace_id}/witnesses",
        data=gzip.compress(json.dumps(batch).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **headers},
        auth=key,
        timeout=30,
    )


def test_batches_are_stored_once_and_bad_ones_refused_naming_the_field(stack: Stack) -> None:
    keys = project_with_keys(stack)
    started = requests.post(
        f"{stack.url}/api/v1/projects/shop/traces", json={"duration_minutes": 15}, auth=keys["full"], timeout=30
    )
    trace_id = started.json()["id"]
    witness = json.loads(witness_json(witness_from_entry(ENTRY_EXAMPLE)))
    batch = {"daemon_name": "web-1", "batch_id": "b-1", "witness_format": WITNESS_FORMAT, "witnesses": [witness] * 3}

    stored = upload(stack, keys["ingest"], trace_id, batch)
    again = upload(stack, keys["ingest"], trace_id, batch)
    assert (stored.status_code, stored.json()) == (202, {"accepted": 3, "duplicate": False})
    assert stored.headers["Content-Type"] == "application/json"
    assert int(stored.headers["Content-Length"]) == len(stored.content)
    assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicate": True})
    sql = "SELECT coalesce(sum(b.witness_count), 0) FROM traces_witnessbatch b JOIN traces_trace t ON t.id = b.trace_id"
    assert database_query(stack, sql + " WHERE t.public_id = %s", trace_id) == 3

    valued = {**witness, "request": {**witness["request"], "body": '{"type": "string", "enum": ["secret"]}'}}
    refused = upload(stack, keys["ingest"], trace_id, {**batch, "batch_id": "b-2", "witnesses": [witness, valued]})
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "witnesses[1].request.body.enum"

    no_key = upload(stack, ("apk_nobody", "wrong"), trace_id, {**batch, "batch_id": "b-3"})
    assert no_key.status_code == 401
    assert "WWW-Authenticate" in no_key.headers
    not_gzip = requests.post(
        f"{stack.url}/api/v1/projects/shop/traces/{trace_id}/witnesses",
        data=b"not gzip",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        auth=keys["ingest"],
        timeout=30,
    )
    assert (not_gzip.status_code, not_gzip.json()["error"]["code"]) == (400, "invalid")
    assert database_query(stack, sql + " WHERE t.public_id = %s", trace_id) == 3


def test_the_upload_is_served_whole_on_the_event_loop() -> None:
    """What the stack test above goes through: no middleware, one hop to the executor."""
    view = resolve("/api/v1/projects/shop/traces/trc_1/witnesses").func
    assert getattr(view, "served_on_the_event_loop", False)
