import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from openapi_spec_validator import validate

from apimodels.models import ModelVersion
from apimodels.selectors import model_document
from apimodels.services import model_builds_requeue, models_build_live
from traces.models import HarUpload, Trace, TraceStatus, WitnessBatch
from traces.services import trace_start, traces_close_ended

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
TRACES = "/api/v1/projects/shop/traces"


def test_trace_status_at_the_boundaries() -> None:
    trace = Trace(started_at=T0, ends_at=T0 + timedelta(minutes=15))
    assert trace.get_status(T0) == TraceStatus.ACTIVE
    assert trace.get_status(T0 + timedelta(minutes=15) - timedelta(microseconds=1)) == TraceStatus.ACTIVE
    assert trace.get_status(T0 + timedelta(minutes=15)) == TraceStatus.FINISHED
    trace.stopped_at = T0 + timedelta(minutes=1)
    assert trace.get_status(T0 + timedelta(minutes=2)) == TraceStatus.STOPPED
    assert trace.get_status(T0 + timedelta(hours=2)) == TraceStatus.STOPPED


def test_starting_a_trace_gives_it_a_readable_name_and_an_end(alice, project, key_client) -> None:
    with time_machine.travel(T0, tick=False):
        response = key_client(alice).post(TRACES, {"duration_minutes": 60}, format="json")
    assert response.status_code == 201
    trace = response.json()
    assert trace["id"].startswith("trc_")
    adjective, color, animal, number = trace["name"].split("-")
    assert adjective.isalpha() and color.isalpha() and animal.isalpha() and 100 <= int(number) <= 999
    assert trace["status"] == "active"
    assert trace["ends_at"].startswith("2026-01-05T13:00:00")


@pytest.mark.parametrize("body", [{}, {"duration_minutes": 0}, {"duration_minutes": 1441}, {"duration_minutes": "x"}])
def test_a_bad_duration_names_the_field(alice, project, key_client, body: dict) -> None:
    response = key_client(alice).post(TRACES, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "duration_minutes"
    assert not Trace.objects.exists()


def test_a_taken_trace_name_is_a_conflict(alice, project, key_client) -> None:
    client = key_client(alice)
    assert client.post(TRACES, {"duration_minutes": 15, "name": "release-check"}, format="json").status_code == 201
    response = client.post(TRACES, {"duration_minutes": 15, "name": "release-check"}, format="json")
    assert response.status_code == 409
    assert Trace.objects.count() == 1


def test_a_trace_cannot_be_named_like_an_action_url(alice, project, key_client) -> None:
    response = key_client(alice).post(TRACES, {"duration_minutes": 15, "name": "har"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "name"


def test_stop_is_idempotent_and_queues_one_build(
    alice, project, key_client, django_capture_on_commit_callbacks
) -> None:
    client = key_client(alice)
    trace = client.post(TRACES, {"duration_minutes": 15}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"{TRACES}/{trace['name']}/stop")
        second = client.post(f"{TRACES}/{trace['id']}/stop")
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "stopped"
    assert second.json()["stopped_at"] == first.json()["stopped_at"]
    assert ModelVersion.objects.filter(trace__public_id=trace["id"]).count() == 1


def test_a_trace_reaching_its_end_is_finished_and_beat_queues_its_build_once(alice, project) -> None:
    with time_machine.travel(T0, tick=False):
        trace = trace_start(project=project, user=alice, duration_minutes=15)
    assert traces_close_ended(now=T0 + timedelta(minutes=14)) == 0
    assert traces_close_ended(now=T0 + timedelta(minutes=15)) == 1
    assert traces_close_ended(now=T0 + timedelta(minutes=16)) == 0
    assert trace.model_versions.count() == 1
    assert Trace.objects.get(pk=trace.pk).get_status(T0 + timedelta(minutes=15)) == TraceStatus.FINISHED


def witnesses_url(trace: Trace) -> str:
    return f"{TRACES}/{trace.public_id}/witnesses"


def test_witnesses_are_accepted_once_per_batch_id(alice, project, key_client, entry) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    client = key_client(alice, scope="ingest")
    body = {"daemon_name": "web-1", "batch_id": "b-1", "entries": [entry(), entry(url="https://api.shop.test/v1/x")]}
    first = client.post(witnesses_url(trace), body, format="json")
    again = client.post(witnesses_url(trace), body, format="json")
    assert first.status_code == again.status_code == 202
    assert first.json() == {"accepted": 2, "duplicate": False}
    assert again.json() == {"accepted": 0, "duplicate": True}
    assert Trace.objects.get(pk=trace.pk).witness_count == 2


def test_stored_witnesses_hold_no_values(alice, project, key_client, entry) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    secret_entry = entry(body={"email": "jane.doe@corp.example", "token": "s3cr3t-Value-123"})
    secret_entry["request"]["headers"].append({"name": "Authorization", "value": "Bearer abc.def.ghi-secret"})
    body = {"daemon_name": "web-1", "batch_id": "b-1", "entries": [secret_entry]}
    assert key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json").status_code == 202
    stored = json.dumps(WitnessBatch.objects.get().witnesses)
    for value in ("jane.doe", "s3cr3t-Value-123", "abc.def.ghi-secret"):
        assert value not in stored
    assert "email" in stored  # names and formats stay


def test_gzip_batches_are_accepted(alice, project, key_client, entry) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    raw = json.dumps({"daemon_name": "web-1", "batch_id": "gz", "entries": [entry()]}).encode()
    response = key_client(alice, scope="ingest").generic(
        "POST", witnesses_url(trace), gzip.compress(raw), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


def test_a_bad_entry_names_its_field_and_stores_nothing(alice, project, key_client, entry) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    broken = entry()
    del broken["request"]["url"]
    body = {"daemon_name": "web-1", "batch_id": "b-1", "entries": [entry(), broken]}
    response = key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "entries[1].request.url"
    assert not WitnessBatch.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch_id": "b", "entries": []}, "daemon_name"),
        ({"daemon_name": "d", "entries": []}, "batch_id"),
        ({"daemon_name": "d", "batch_id": "b"}, "entries"),
        ({"daemon_name": "d", "batch_id": "b", "entries": [1]}, "entries[0]"),
    ],
)
def test_a_bad_batch_names_the_field(alice, project, key_client, body: dict, field: str) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    response = key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_witnesses_after_the_grace_period_are_gone(alice, project, key_client, entry, settings) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        client = key_client(alice, scope="ingest")
        clock.shift(timedelta(minutes=15) + settings.WITNESS_GRACE - timedelta(seconds=1))
        late = {"daemon_name": "d", "batch_id": "in-flight", "entries": [entry()]}
        assert client.post(witnesses_url(trace), late, format="json").status_code == 202
        clock.shift(timedelta(seconds=1))
        response = client.post(witnesses_url(trace), {**late, "batch_id": "too-late"}, format="json")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "gone"
    assert WitnessBatch.objects.count() == 1


def test_an_oversized_batch_is_413(alice, project, key_client, entry, settings) -> None:
    settings.WITNESS_BATCH_MAX_ENTRIES = 2
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    body = {"daemon_name": "d", "batch_id": "big", "entries": [entry()] * 3}
    response = key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json")
    assert response.status_code == 413
    settings.WITNESS_BATCH_MAX_BYTES = 1000
    body = {"daemon_name": "d", "batch_id": "big", "entries": [entry(body={"blob": "x" * 2000})]}
    assert key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json").status_code == 413
    assert not WitnessBatch.objects.exists()


def har_file(entries: list[dict], name: str = "traffic.har") -> SimpleUploadedFile:
    content = json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}})
    return SimpleUploadedFile(name, content.encode(), content_type="application/json")


def test_a_har_upload_becomes_a_finished_trace_with_a_model(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    client = key_client(alice)
    entries = [entry(url=f"https://api.shop.test/v1/products/{n}") for n in (101, 202, 303, 404)]
    entries.append(entry(method="DELETE", url="https://api.shop.test/v1/products/5", status=204))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{TRACES}/har", {"file": har_file(entries)}, format="multipart")
    assert response.status_code == 201
    trace = response.json()
    assert trace["status"] == "finished"
    detail = client.get(f"{TRACES}/{trace['id']}").json()  # imported by a worker after the upload
    assert (detail["witness_count"], detail["entries_skipped"], detail["import_errors"]) == (5, 0, [])
    assert detail["model_build"]["status"] == "ready"
    model = client.get(f"{TRACES}/{trace['id']}/model").json()
    assert {(e["method"], e["path"]) for e in model["endpoints"]} == {
        ("GET", "/v1/products/{product_id}"),
        ("DELETE", "/v1/products/{product_id}"),
    }
    filtered = client.get(f"{TRACES}/{trace['id']}/model?method=delete").json()["endpoints"]
    assert [(e["method"], e["status_codes"]) for e in filtered] == [("DELETE", ["204"])]
    assert client.get(f"{TRACES}/{trace['id']}/model?status=204&method=GET").json()["endpoints"] == []
    assert len(client.get(f"{TRACES}/{trace['id']}/model?q=products").json()["endpoints"]) == 2


def test_openapi_exports_as_yaml_and_json(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    client = key_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        trace = client.post(f"{TRACES}/har", {"file": har_file([entry()])}, format="multipart").json()
    as_yaml = client.get(f"{TRACES}/{trace['id']}/openapi?format=yaml")
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"] == "application/yaml"
    yaml_text = as_yaml.getvalue()
    assert yaml_text.startswith(b"openapi: 3.1")
    as_json = client.get(f"{TRACES}/{trace['id']}/openapi")
    assert as_json["Content-Type"] == "application/json"
    document = json.loads(as_json.getvalue())
    assert "/v1/products" in document["paths"]
    validate(document)
    assert yaml.safe_load(yaml_text) == document
    bad = client.get(f"{TRACES}/{trace['id']}/openapi?format=xml")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "format"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "Not a JSON HAR"),
        (b'{"log": {}}', "no HTTP requests"),
        (b'{"log": {"entries": []}}', "no HTTP requests"),
        (gzip.compress(b'{"log": {"entries": [{"request": '), "Not a JSON HAR"),
    ],
)
def test_a_bad_har_file_is_reported_on_its_trace(
    alice, project, key_client, content: bytes, message: str, django_capture_on_commit_callbacks
) -> None:
    client = key_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{TRACES}/har", {"file": SimpleUploadedFile("x.har", content)}, format="multipart")
    assert response.status_code == 201
    trace = client.get(f"{TRACES}/{response.json()['id']}").json()
    assert any(message in error for error in trace["import_errors"]), trace["import_errors"]
    assert (trace["witness_count"], trace["model_build"]) == (0, None)
    assert not HarUpload.objects.exists()  # the stored upload is gone


@pytest.fixture
def web_temp_dir(settings, tmp_path: Path) -> Path:
    """The web process's folder for uploads in progress (Django's FILE_UPLOAD_TEMP_DIR)."""
    folder = tmp_path / "web-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_a_har_upload_is_imported_with_nothing_but_the_database_shared(
    alice, project, key_client, entry, web_temp_dir: Path, django_capture_on_commit_callbacks
) -> None:
    content = json.dumps({"log": {"entries": [entry(), entry(method="POST")]}}).encode()
    client = key_client(alice)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"{TRACES}/har", {"file": SimpleUploadedFile("x.har", content)}, format="multipart")
    assert response.status_code == 201
    assert not list(web_temp_dir.iterdir())  # the web process keeps nothing on disk
    assert gzip.decompress(HarUpload.objects.get().payload) == content
    shutil.rmtree(web_temp_dir)  # another machine, or a restarted dyno, runs the worker
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()
    trace = client.get(f"{TRACES}/{response.json()['id']}").json()
    assert (trace["witness_count"], trace["import_errors"], trace["model_build"]["status"]) == (2, [], "ready")
    assert not HarUpload.objects.exists()
    queued[0]()  # the import delivered again finds nothing to do
    assert client.get(f"{TRACES}/{response.json()['id']}").json()["witness_count"] == 2


def gzip_encoded_har(content: bytes) -> bytes:
    """A multipart HAR upload sent with `Content-Encoding: gzip`."""
    return gzip.compress(encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("x.har", content)}), 1)


def test_a_gzip_encoded_har_upload_is_taken_up_to_the_har_limit(alice, project, key_client, entry, settings) -> None:
    big = entry(body={"blob": "x" * 1000})
    content = json.dumps({"log": {"entries": [big] * 6000}}).encode()
    assert settings.WITNESS_BATCH_MAX_BYTES < len(content) < settings.HAR_UPLOAD_MAX_BYTES
    client = key_client(alice)
    body = gzip_encoded_har(content)
    response = client.generic(
        "POST", f"{TRACES}/har", body, content_type=MULTIPART_CONTENT, HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 201, response.json()
    assert gzip.decompress(HarUpload.objects.get().payload) == content
    settings.HAR_UPLOAD_MAX_BYTES = len(content) - 1
    response = client.generic(
        "POST", f"{TRACES}/har", body, content_type=MULTIPART_CONTENT, HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 413
    assert Trace.objects.count() == 1


def test_a_har_upload_is_stored_gzipped_and_skips_invalid_entries(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    bad = entry()
    bad["request"]["url"] = 7
    content = json.dumps({"log": {"entries": [entry(), bad, entry(url="data:x"), entry(method="POST")]}}).encode()
    client = key_client(alice)
    for upload in (content, gzip.compress(content)):  # plain or gzipped as sent
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"{TRACES}/har", {"file": SimpleUploadedFile("x.har", upload)}, format="multipart")
        trace = client.get(f"{TRACES}/{response.json()['id']}").json()
        assert (trace["witness_count"], trace["entries_skipped"]) == (2, 1)
        assert trace["import_errors"] == ["log.entries[1].request.url: Must be a string."] or trace["import_errors"][
            0
        ].startswith("log.entries[1].request.url")
        assert trace["model_build"]["status"] == "ready"


def test_a_har_upload_over_the_limit_is_413(alice, project, key_client, entry, settings, web_temp_dir: Path) -> None:
    settings.HAR_UPLOAD_MAX_BYTES = 1000
    content = json.dumps({"log": {"entries": [entry() for _ in range(5)]}}).encode()
    response = key_client(alice).post(
        f"{TRACES}/har", {"file": SimpleUploadedFile("x.har", content)}, format="multipart"
    )
    assert response.status_code == 413
    assert not Trace.objects.exists()
    assert not list(web_temp_dir.iterdir())


def test_beat_rebuilds_an_active_trace_only_when_new_witnesses_arrived(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        assert models_build_live() == 0  # nothing captured yet
        client = key_client(alice, scope="ingest")
        client.post(witnesses_url(trace), {"daemon_name": "d", "batch_id": "1", "entries": [entry()]}, format="json")
        clock.shift(timedelta(seconds=30))
        with django_capture_on_commit_callbacks(execute=True):
            assert models_build_live() == 1
        assert trace.model_versions.get().status == ModelVersion.BuildStatus.READY
        clock.shift(timedelta(seconds=30))
        assert models_build_live() == 0  # built since the last batch
        client.post(witnesses_url(trace), {"daemon_name": "d", "batch_id": "2", "entries": [entry()]}, format="json")
        assert models_build_live() == 1
        assert models_build_live() == 0  # the queued build is not queued twice


def test_live_builds_fold_only_new_witnesses_and_match_a_full_build(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        trace = trace_start(project=project, user=alice, duration_minutes=60)
        client = key_client(alice, scope="ingest")
        urls = [f"https://api.shop.test/v1/items/{n}" for n in (11, 22, 33)] + ["https://api.shop.test/v1/cart"]
        for index, url in enumerate(urls):
            body = {"daemon_name": "d", "batch_id": str(index), "entries": [entry(url=url)]}
            assert client.post(witnesses_url(trace), body, format="json").status_code == 202
            clock.shift(timedelta(seconds=20))
            with django_capture_on_commit_callbacks(execute=True):
                models_build_live()
        live = trace.model_versions.filter(status=ModelVersion.BuildStatus.READY).first()
        assert live is not None
        assert live.incremental and live.version > 1
        assert live.processed == 1  # only the newest batch was folded into the resumed builder
        assert live.witness_count == 4
        live_endpoints = model_document(live)["endpoints"]
        assert trace.model_versions.count() == 1  # superseded live previews are deleted
        assert not live.exports.exists()  # a preview writes its exports when first asked for them
        assert key_client(alice).get(f"{TRACES}/{trace.public_id}/model").json()["version"] == live.version
        assert [export.format for export in live.exports.all()] == ["model.json"]
        with django_capture_on_commit_callbacks(execute=True):
            client_full = key_client(alice)
            client_full.post(f"{TRACES}/{trace.public_id}/stop")
        [final] = trace.model_versions.all()  # the final build replaced the live preview
        assert not final.incremental and final.processed == 4
        assert final.exports.count() == 3
        assert model_document(final)["endpoints"] == live_endpoints
        # Nothing resumes a closed trace's builder: the final build dropped the stored ones.
        assert not ModelVersion.objects.filter(trace=trace).exclude(builder_state=None).exists()


def test_witnesses_in_flight_after_the_stop_rebuild_the_final_model(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=60)
    with django_capture_on_commit_callbacks(execute=True):
        key_client(alice).post(f"{TRACES}/{trace.public_id}/stop")
    assert trace.model_versions.get().witness_count == 0
    late = {"daemon_name": "d", "batch_id": "late", "entries": [entry()]}
    with django_capture_on_commit_callbacks(execute=True):
        assert key_client(alice, scope="ingest").post(witnesses_url(trace), late, format="json").status_code == 202
    follow_up = trace.model_versions.get(version=2)
    assert follow_up.status == ModelVersion.BuildStatus.QUEUED  # until no more uploads can arrive
    with django_capture_on_commit_callbacks(execute=True):
        model_builds_requeue(now=follow_up.not_before)
    (final,) = trace.model_versions.all()  # the follow-up supersedes the first final build
    assert (final.version, final.status, final.witness_count) == (2, ModelVersion.BuildStatus.READY, 1)


def test_names_with_nul_characters_are_stored_and_built(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=15)
    odd = entry(url="https://api.shop.test/v1/a\x00b", body={"ke\x00y": 1})
    odd["request"]["headers"].append({"name": "X-\x00", "value": "1"})
    body = {"daemon_name": "d", "batch_id": "nul", "entries": [odd]}
    assert key_client(alice, scope="ingest").post(witnesses_url(trace), body, format="json").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        key_client(alice).post(f"{TRACES}/{trace.public_id}/stop")
    api_model = trace.model_versions.get()
    assert api_model.status == ModelVersion.BuildStatus.READY, api_model.error
    assert [e.path for e in api_model.endpoints.all()] == ["/v1/a\ufffdb"]


@pytest.mark.parametrize("url", ["/api/v1/projects/sh%00op", "/api/v1/projects/shop/diff?base=%00&head=project"])
def test_a_nul_in_the_url_is_400(alice, project, key_client, url: str) -> None:
    response = key_client(alice).get(url)
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]["message"]


def test_a_browser_har_keeps_http_exchanges_and_skips_the_rest(
    alice, project, key_client, entry, django_capture_on_commit_callbacks
) -> None:
    data_url, blocked, broken = entry(url="data:image/png;base64,iVBO"), entry(status=0), entry()
    del broken["request"]["method"]
    client = key_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = client.post(f"{TRACES}/har", {"file": har_file([entry(), data_url, blocked])}, format="multipart")
    trace = client.get(f"{TRACES}/{uploaded.json()['id']}").json()
    assert (trace["witness_count"], trace["entries_skipped"], trace["import_errors"]) == (1, 0, [])
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = client.post(f"{TRACES}/har", {"file": har_file([entry(), data_url, broken])}, format="multipart")
    trace = client.get(f"{TRACES}/{uploaded.json()['id']}").json()
    assert (trace["witness_count"], trace["entries_skipped"]) == (1, 1)
    assert trace["import_errors"][0].startswith("log.entries[2].request.method: ")
