"""Renaming and deleting a trace through the REST API."""

from django.core.files.uploadedfile import SimpleUploadedFile

from apimodels.models import ModelVersion
from traces.models import Trace, WitnessBatch
from traces.services import trace_start

from ..conftest import FIXTURES

TRACES = "/api/v1/projects/shop/traces"


def test_a_har_upload_is_named_after_its_file(alice, project, key_client) -> None:
    upload = SimpleUploadedFile("Login Flow (2).har", (FIXTURES / "small.har").read_bytes())
    response = key_client(alice).post(f"{TRACES}/har", {"file": upload}, format="multipart")
    assert response.status_code == 201
    assert response.json()["name"] == "login-flow-2"


def test_a_member_renames_a_trace(bob, project, key_client) -> None:
    trace = trace_start(project=project, user=bob, duration_minutes=15, name="before")
    response = key_client(bob).patch(f"{TRACES}/before", {"name": "after"}, format="json")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["name"]) == (trace.public_id, "after")
    assert key_client(bob).get(f"{TRACES}/after").json()["id"] == trace.public_id


def test_a_rename_to_a_taken_or_bad_name_is_refused(alice, project, key_client) -> None:
    trace_start(project=project, user=alice, duration_minutes=15, name="taken")
    trace_start(project=project, user=alice, duration_minutes=15, name="mine")
    client = key_client(alice)
    assert client.patch(f"{TRACES}/mine", {"name": "taken"}, format="json").status_code == 409
    for body in ({}, {"name": "Not OK"}, {"name": "har"}):
        response = client.patch(f"{TRACES}/mine", body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "name"
    assert sorted(Trace.objects.values_list("name", flat=True)) == ["mine", "taken"]


def test_deleting_a_trace_removes_its_data_and_queues_the_merged_model(
    alice, project, key_client, django_capture_on_commit_callbacks
) -> None:
    client = key_client(alice)
    upload = SimpleUploadedFile("small.har", (FIXTURES / "small.har").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        trace_id = client.post(f"{TRACES}/har", {"file": upload}, format="multipart").json()["id"]
    merged_before = ModelVersion.objects.filter(project=project, trace=None).count()
    assert merged_before == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"{TRACES}/{trace_id}")
    assert response.status_code == 204
    assert not Trace.objects.exists() and not WitnessBatch.objects.exists()
    merged = ModelVersion.objects.filter(project=project, trace=None)
    assert list(merged.values_list("version", "status")) == [(2, "ready")]  # v1 superseded
    assert not merged.all()[0].endpoints.exists()
    assert client.delete(f"{TRACES}/{trace_id}").status_code == 404


def test_an_outsider_can_neither_rename_nor_delete(charlie, project, key_client) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15, name="kept")
    client = key_client(charlie)
    assert client.patch(f"{TRACES}/kept", {"name": "x1"}, format="json").status_code == 404
    assert client.delete(f"{TRACES}/kept").status_code == 404
    assert Trace.objects.get().name == "kept"
