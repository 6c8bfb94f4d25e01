"""Model builds finish exactly once: claims owned by a task, stale builds re-queued by beat, late uploads
coalesced into one follow-up, and unreadable stored witnesses skipped and counted."""

import json
import zlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apimodels.models import ModelVersion
from apimodels.services import (
    MAX_BUILD_ATTEMPTS,
    STALE_BUILD_AFTER,
    model_build,
    model_builds_requeue,
    model_rebuild,
)
from traces.models import Trace, WitnessBatch
from traces.services import trace_start

from ..conftest import har_upload

TRACES = "/api/v1/projects/shop/traces"
READY, QUEUED, BUILDING, FAILED = (ModelVersion.BuildStatus(s) for s in ("ready", "queued", "building", "failed"))


def har(entries: list[dict]) -> bytes:
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


@pytest.fixture
def uploaded(project, alice, entry, django_capture_on_commit_callbacks) -> Trace:
    """A HAR trace of 3 witnesses whose model is built."""
    entries = [entry(url=f"https://api.shop.test/v1/products/{n}") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        return har_upload(project=project, user=alice, content=har(entries))


def queued_build(trace: Trace) -> ModelVersion:
    """A rebuild of the trace, queued but not run (its message is not sent)."""
    version = model_rebuild(trace=trace)
    assert version.status == QUEUED
    return version


def test_a_build_skips_and_counts_stored_witnesses_it_cannot_read(
    uploaded, project, alice, key_client, session_client, django_capture_on_commit_callbacks
) -> None:
    good = WitnessBatch.objects.get(trace=uploaded)
    # Corrupted in the database, as a bug or a disk might: not zlib, invalid JSON, a lone surrogate, not witnesses.
    bad_rows = [
        (b"not zlib at all", 2),
        (zlib.compress(b'[{"method": "GET", "time": Infinity}]'), 1),
        (zlib.compress(b'[{"path": "/a\\ud800"}, ' + json.dumps(good.witnesses[0]).encode() + b"]"), 2),
        (zlib.compress(b'[{"method": "GET"}, 7]'), 2),
        (zlib.compress(b'{"a": "dict"}'), 3),
    ]
    for index, (payload, count) in enumerate(bad_rows):
        WitnessBatch.objects.create(trace=uploaded, batch_id=f"bad-{index}", payload=b"", witness_count=count)
        with connection.cursor() as cursor:  # written raw, past every check of the model layer
            cursor.execute("UPDATE traces_witnessbatch SET payload = %s WHERE batch_id = %s", [payload, f"bad-{index}"])
    with django_capture_on_commit_callbacks(execute=True):
        model_rebuild(trace=uploaded)
    (model,) = uploaded.model_versions.filter(status=READY)
    assert model.error == ""
    # 3 + 1 readable witnesses folded; 2 + 1 + 1 (the surrogate) + 2 + 3 skipped.
    assert (model.witness_count, model.skipped, model.processed) == (4, 9, 13)
    build = key_client(alice).get(f"{TRACES}/{uploaded.public_id}").json()["model_build"]
    assert (build["status"], build["skipped"]) == ("ready", 9)
    page = session_client(alice).get(f"/projects/{project.public_id}/traces/{uploaded.name}/")
    assert "9 witnesses skipped" in page.content.decode()


def test_a_redelivered_build_starts_over_under_the_same_task(uploaded) -> None:
    version = queued_build(uploaded)
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(
        status=BUILDING, task_id="task-1", heartbeat_at=now, processed=2, attempts=1
    )
    model_build(model_id=version.pk, task_id="another-task", now=now)  # a duplicate message: the owner is alive
    assert ModelVersion.objects.get(pk=version.pk).status == BUILDING
    model_build(model_id=version.pk, task_id="task-1", now=now)  # the owner's message came back: it died
    version.refresh_from_db()
    assert (version.status, version.witness_count, version.attempts) == (READY, 3, 2)


def test_beat_requeues_a_build_whose_worker_stopped_showing_progress(
    uploaded, django_capture_on_commit_callbacks
) -> None:
    version = queued_build(uploaded)
    started = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(
        status=BUILDING, task_id="dead-task", heartbeat_at=started, attempts=1
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert model_builds_requeue(now=started + STALE_BUILD_AFTER - timedelta(seconds=1)) == 0
    assert ModelVersion.objects.get(pk=version.pk).status == BUILDING
    with django_capture_on_commit_callbacks(execute=True):
        assert model_builds_requeue(now=started + STALE_BUILD_AFTER + timedelta(seconds=1)) == 1
    (model,) = uploaded.model_versions.all()  # the new version supersedes the first one
    assert (model.pk, model.status, model.witness_count) == (version.pk, READY, 3)


def test_a_build_taken_over_stores_nothing_of_its_own(uploaded) -> None:
    version = queued_build(uploaded)
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(
        status=BUILDING, task_id="slow-task", heartbeat_at=now - STALE_BUILD_AFTER * 2, attempts=1
    )
    model_build(model_id=version.pk, task_id="new-task", now=now)
    version.refresh_from_db()
    assert (version.status, version.task_id) == (READY, "new-task")
    model_build(model_id=version.pk, task_id="slow-task", now=now)  # the slow one's message comes back: a no-op
    assert ModelVersion.objects.get(pk=version.pk).finished_at == version.finished_at


def test_a_build_that_keeps_killing_its_worker_fails_with_that_said(uploaded) -> None:
    version = queued_build(uploaded)
    ModelVersion.objects.filter(pk=version.pk).update(
        status=BUILDING, task_id="task-1", heartbeat_at=timezone.now(), attempts=MAX_BUILD_ATTEMPTS
    )
    model_build(model_id=version.pk, task_id="task-1")
    version.refresh_from_db()
    assert version.status == FAILED
    assert "stopped its worker 3 times" in version.error


def test_a_queued_build_whose_message_never_left_is_sent_by_beat(uploaded, django_capture_on_commit_callbacks) -> None:
    version = queued_build(uploaded)  # its on-commit send never ran, as when the broker was down
    assert ModelVersion.objects.get(pk=version.pk).sent_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert model_builds_requeue() == 1
    assert ModelVersion.objects.get(pk=version.pk).status == READY
    with django_capture_on_commit_callbacks(execute=True):
        assert model_builds_requeue() == 0


def test_uploads_in_the_grace_period_make_one_follow_up_build(
    project, alice, entry, key_client, django_capture_on_commit_callbacks
) -> None:
    trace = trace_start(project=project, user=alice, duration_minutes=60)
    daemon = key_client(alice, scope="ingest")
    url = f"{TRACES}/{trace.public_id}/witnesses"
    with django_capture_on_commit_callbacks(execute=True):
        daemon.post(url, {"daemon_name": "d", "batch_id": "early", "entries": [entry()]}, format="json")
        key_client(alice).post(f"{TRACES}/{trace.public_id}/stop")
    for n in range(40):
        batch = {"daemon_name": "d", "batch_id": f"late-{n}", "entries": [entry()]}
        with django_capture_on_commit_callbacks(execute=True):
            assert daemon.post(url, batch, format="json").status_code == 202
    first, follow_up = trace.model_versions.order_by("version")
    assert (first.status, first.witness_count) == (READY, 1)
    trace.refresh_from_db()
    assert trace.stopped_at is not None and follow_up.not_before is not None
    assert (follow_up.status, follow_up.not_before) == (QUEUED, trace.stopped_at + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert model_builds_requeue(now=follow_up.not_before - timedelta(seconds=1)) == 0
        assert model_builds_requeue(now=follow_up.not_before) == 1
    (final,) = trace.model_versions.all()
    assert (final.version, final.status, final.witness_count) == (2, READY, 41)
