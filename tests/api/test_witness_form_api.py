"""Witness batches in the form the agent uploads (`witness_format`, `witnesses` it made): checked, stored as sent,
counted once per batch_id, and built into the same model as the same traffic sent as HAR entries."""

import gzip
import json
import zlib

import orjson
import pytest

from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT, witness_json
from apimodels.models import ModelVersion
from apimodels.selectors import model_document
from traces.models import Trace, WitnessBatch
from traces.services import trace_start, trace_stop


def url(trace: Trace) -> str:
    return f"/api/v1/projects/shop/traces/{trace.public_id}/witnesses"


def witnesses(entries: list[dict]) -> list[dict]:
    """The witnesses as the agent uploads them (bodies' schemas as JSON text)."""
    return [json.loads(witness_json(witness_from_entry(entry))) for entry in entries]


def body(items: list[dict], batch_id: str = "b-1", **more: object) -> dict:
    return {"daemon_name": "web-1", "batch_id": batch_id, "witness_format": WITNESS_FORMAT, "witnesses": items, **more}


def test_witnesses_are_stored_as_sent_once_per_batch_id(daemon, trace, entry) -> None:
    second = entry(url="https://api.shop.test/v1/x?page=2")
    made = witnesses([entry(), second])
    first = daemon.post(url(trace), body(made, dropped={"queue_full": 1}), format="json")
    again = daemon.post(url(trace), body(made), format="json")
    assert (first.status_code, first.json()) == (202, {"accepted": 2, "duplicate": False})
    assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicate": True})
    assert WitnessBatch.objects.get().witnesses == [witness_from_entry(entry()), witness_from_entry(second)]
    assert Trace.objects.get(pk=trace.pk).witness_count == 2


def test_bodies_are_stored_as_the_texts_sent_and_read_once_per_text(daemon, trace, entry) -> None:
    made = witnesses([entry(), entry()])
    assert daemon.post(url(trace), body(made), format="json").status_code == 202
    stored = json.loads(zlib.decompress(WitnessBatch.objects.get().payload))
    assert [w["response"]["body"] for w in stored] == [w["response"]["body"] for w in made]
    first, second = WitnessBatch.objects.get().witnesses
    assert first["response"]["body"] is second["response"]["body"]  # shared, as `witness_from_entry` shares it


def test_a_batch_stored_with_bodies_as_objects_reads_as_before(trace, entry) -> None:
    made = [witness_from_entry(entry()), witness_from_entry(entry(body={"id": 7}))]
    old = orjson.dumps(made)  # the stored form before bodies were kept as text
    WitnessBatch.objects.create(trace=trace, batch_id="old", payload=zlib.compress(old), witness_count=2)
    assert WitnessBatch.objects.get().witnesses == made


def test_nul_and_lone_surrogate_escapes_in_a_body_text_are_stored_replaced(
    daemon, trace, entry, django_capture_on_commit_callbacks
) -> None:
    made = witnesses([entry()])
    made[0]["response"]["body"] = '{"type":"object","properties":{"a\\u0000b":{"type":"integer"},"\\ud800":{}}}'
    assert daemon.post(url(trace), body(made), format="json").status_code == 202
    [witness] = WitnessBatch.objects.get().witnesses
    assert witness["response"]["body"]["properties"] == {"a\ufffdb": {"type": "integer"}, "?": {}}
    with django_capture_on_commit_callbacks(execute=True):
        trace_stop(trace=trace)
    version = trace.model_versions.get()
    assert version.status == ModelVersion.BuildStatus.READY, version.error


def test_a_gzip_batch_of_witnesses_is_accepted(daemon, trace, entry) -> None:
    raw = json.dumps(body(witnesses([entry()]))).encode()
    response = daemon.generic(
        "POST", url(trace), gzip.compress(raw), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert (response.status_code, response.json()["accepted"]) == (202, 1)


def test_a_value_in_a_witness_is_refused_naming_the_field_and_nothing_is_stored(daemon, trace, entry) -> None:
    made = witnesses([entry(), entry(body={"email": "jane@corp.example"})])
    schema = json.loads(made[1]["response"]["body"])
    schema["properties"]["email"]["enum"] = ["jane@corp.example"]
    made[1]["response"]["body"] = json.dumps(schema)
    response = daemon.post(url(trace), body(made), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "witnesses[1].response.body.properties.email.enum"
    assert not WitnessBatch.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"witness_format": WITNESS_FORMAT + 1}, "witness_format"),
        ({"witness_format": "1.5"}, "witness_format"),
        ({"witness_format": None}, "witness_format"),
        ({"witnesses": "all"}, "witnesses"),
        ({"witnesses": [1]}, "witnesses[0]"),
        ({"witnesses": [{"request": {}}]}, "witnesses[0].auth"),
        ({"batch_id": None}, "batch_id"),
    ],
)
def test_a_bad_batch_of_witnesses_names_the_field(daemon, trace, entry, change: dict, field: str) -> None:
    response = daemon.post(url(trace), {**body(witnesses([entry()])), **change}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not WitnessBatch.objects.exists()


def test_a_batch_of_witnesses_without_witness_format_is_refused(daemon, trace, entry) -> None:
    missing = body(witnesses([entry()]))
    del missing["witness_format"]
    response = daemon.post(url(trace), missing, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "witness_format"


def test_another_witness_format_is_told_to_upgrade(daemon, trace, entry) -> None:
    response = daemon.post(url(trace), body(witnesses([entry()]), witness_format=WITNESS_FORMAT + 1), format="json")
    assert response.status_code == 400
    assert f"witness_format {WITNESS_FORMAT}, not {WITNESS_FORMAT + 1}" in response.json()["error"]["message"]


def test_too_many_witnesses_is_413(daemon, trace, entry, settings) -> None:
    settings.WITNESS_BATCH_MAX_ENTRIES = 2
    response = daemon.post(url(trace), body(witnesses([entry()] * 3)), format="json")
    assert response.status_code == 413
    assert not WitnessBatch.objects.exists()


def test_witnesses_build_the_model_the_same_entries_build(
    alice, project, daemon, entry, django_capture_on_commit_callbacks
) -> None:
    entries = [
        entry(url=f"https://api.shop.test/v1/items/{n}?page={n}", body={"id": n, "name": "Lamp"}) for n in (11, 22, 33)
    ] + [entry(method="POST", url="https://api.shop.test/v1/cart", status=201)]
    documents = []
    for form in ("witnesses", "entries"):
        trace = trace_start(project=project, user=alice, duration_minutes=15, name=f"by-{form}")
        sent = (
            body(witnesses(entries))
            if form == "witnesses"
            else {"daemon_name": "d", "batch_id": "1", "entries": entries}
        )
        assert daemon.post(url(trace), sent, format="json").status_code == 202
        with django_capture_on_commit_callbacks(execute=True):
            trace_stop(trace=trace)
        version = trace.model_versions.get()
        assert version.status == ModelVersion.BuildStatus.READY, version.error
        documents.append(model_document(version)["endpoints"])
    assert documents[0] == documents[1]
    assert len(documents[0]) == 2


@pytest.mark.parametrize("form", ["witnesses", "entries"])
def test_a_form_encoded_batch_is_a_400(daemon, trace, form: str) -> None:
    fields = {"daemon_name": "web-1", "batch_id": "b-1", "witness_format": str(WITNESS_FORMAT), form: "x"}
    response = daemon.post(url(trace), fields)  # multipart, as a form posts it
    assert response.status_code == 400
    assert response.json()["error"]["field"] == f"{form}[0]"  # a form's field is a list of its values
    assert not WitnessBatch.objects.exists()
