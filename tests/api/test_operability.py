import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from traces.services import trace_start


@pytest.mark.worker
def test_health_reports_every_check_ok_with_a_worker_running(celery_worker) -> None:
    response = Client().get("/health/?format=json")
    assert response.status_code == 200, response.content
    checks = json.loads(response.content)
    assert all(status == "OK" for status in checks.values())
    assert any("Database" in name for name in checks)
    assert any("Migrations" in name for name in checks)


def test_metrics_are_served_to_loopback_without_a_token(db) -> None:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total" in response.content


def test_metrics_report_work_state(alice, project, key_client, entry, django_capture_on_commit_callbacks) -> None:
    har = {"log": {"version": "1.2", "entries": [entry()]}}
    upload = SimpleUploadedFile("t.har", json.dumps(har).encode())
    with django_capture_on_commit_callbacks(execute=True):
        key_client(alice).post("/api/v1/projects/shop/traces/har", {"file": upload}, format="multipart")
    trace_start(project=project, user=alice, duration_minutes=15)
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    assert 'pawprint_model_builds{status="ready"} 2.0' in text  # the trace's model and the merged one
    assert "pawprint_active_traces 1.0" in text
    assert "pawprint_model_build_witnesses_total 2.0" in text


def test_metrics_need_the_token_when_one_is_set(db, settings) -> None:
    settings.METRICS_TOKEN = "s3cret"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    wrong = Client().get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = Client(REMOTE_ADDR="10.0.0.9").get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200


def test_metrics_refuse_other_addresses_without_a_token(db) -> None:
    assert Client(REMOTE_ADDR="10.0.0.9").get("/metrics").status_code == 403


def test_unknown_api_urls_answer_json_404(db) -> None:
    response = Client().get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
