"""A HAR upload is built into a model by a real Celery worker process, which shares only the database (and the
broker) with the web process."""

import json
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from traces.models import HarUpload

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"
TRACES = "/api/v1/projects/shop/traces"


@pytest.mark.worker
def test_a_real_worker_builds_the_model_of_an_uploaded_har(
    celery_worker, project, alice, key_client, settings, tmp_path: Path
) -> None:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)  # the web process's; the worker never sees it
    client = key_client(alice)
    upload = SimpleUploadedFile("small.har", FIXTURE.read_bytes(), content_type="application/json")
    trace = client.post(f"{TRACES}/har", {"file": upload}, format="multipart").json()
    assert not list(tmp_path.iterdir())
    deadline = time.monotonic() + 60
    # No build until the worker has imported the file.
    while (build := client.get(f"{TRACES}/{trace['id']}").json()["model_build"] or {}).get("status") not in (
        "ready",
        "failed",
    ):
        assert time.monotonic() < deadline, f"no model after 60 s: {build}"
        time.sleep(0.2)
    assert build["status"] == "ready", build["error"]
    assert build["processed"] == build["total"] == client.get(f"{TRACES}/{trace['id']}").json()["witness_count"] > 0
    model = client.get(f"{TRACES}/{trace['id']}/model").json()
    expected = json.loads(FIXTURE.with_suffix(".endpoints.json").read_text())
    assert sorted([e["method"], e["path"]] for e in model["endpoints"]) == sorted(expected)
    by_path = {(e["method"], e["path"]): e for e in model["endpoints"]}
    path_params = {
        (p["name"], p["schema"]["type"], p["schema"].get("format"))
        for p in by_path[("GET", "/v1/users/{user_id}")]["parameters"]
        if p["in"] == "path"
    }
    assert path_params == {("user_id", "string", "uuid")}
    product = by_path[("GET", "/v1/products/{product_id}")]
    assert [(p["name"], p["schema"]["type"]) for p in product["parameters"] if p["in"] == "path"] == [
        ("product_id", "integer")
    ]
    assert "404" in product["status_codes"]
    assert not HarUpload.objects.exists()
