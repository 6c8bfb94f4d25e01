"""A model build survives its worker: killed with SIGKILL mid-build, the build is found stale and re-queued by
beat, and a restarted worker finishes it with the exact witness count."""

import signal
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from apimodels.models import ModelVersion
from apimodels.services import STALE_BUILD_AFTER, model_build_enqueue, model_builds_requeue
from controlplane.celery import app as celery_app
from projects.models import Project
from traces.models import Trace, WitnessBatch, witnesses_pack
from traces.services import witnesses_from_entries

from ..conftest import start_celery_worker

BATCH, BATCHES = 200, 250


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.1)


def stored_trace(project: Project, entry: Callable[..., dict]) -> Trace:
    """A trace with BATCHES stored batches of BATCH witnesses: a build of several seconds."""
    now = timezone.now()
    trace = Trace.objects.create(project=project, name="big", source=Trace.Source.HAR, started_at=now, ends_at=now)
    entries = [entry(url=f"https://api.shop.test/v1/products/{n}") for n in range(BATCH)]
    payload = witnesses_pack(witnesses_from_entries(entries))
    WitnessBatch.objects.bulk_create(
        WitnessBatch(trace=trace, batch_id=f"b{n}", payload=payload, witness_count=BATCH) for n in range(BATCHES)
    )
    return trace


@pytest.mark.worker
def test_a_build_whose_worker_is_killed_finishes_on_a_restarted_worker(
    transactional_db: None, project: Project, entry: Callable[..., dict], worker_env: dict[str, str]
) -> None:
    celery_app.conf.task_always_eager = False
    trace = stored_trace(project, entry)
    worker = start_celery_worker(worker_env, name="test-worker-killed")
    try:
        version = model_build_enqueue(project=project, trace=trace)

        def mid_build() -> bool:
            version.refresh_from_db()
            return version.status == ModelVersion.BuildStatus.BUILDING and version.processed > 0

        wait_for(mid_build, "the build under way")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    version.refresh_from_db()
    assert version.status == ModelVersion.BuildStatus.BUILDING
    assert 0 < version.processed < version.total == BATCH * BATCHES
    # Its message waits in the broker's unacked set for the visibility timeout (hours): beat takes the build back
    # once it has shown no progress for STALE_BUILD_AFTER.
    assert model_builds_requeue(now=timezone.now() + STALE_BUILD_AFTER - timedelta(seconds=5)) == 0
    assert model_builds_requeue(now=timezone.now() + STALE_BUILD_AFTER + timedelta(seconds=1)) == 1
    worker = start_celery_worker(worker_env, name="test-worker-restarted")
    try:

        def finished() -> bool:
            version.refresh_from_db()
            return version.status in (ModelVersion.BuildStatus.READY, ModelVersion.BuildStatus.FAILED)

        wait_for(finished, "the build finished")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert version.status == ModelVersion.BuildStatus.READY, version.error
    assert version.witness_count == version.processed == BATCH * BATCHES
    assert (version.skipped, version.attempts) == (0, 2)
    assert version.endpoints.count() == 1  # /v1/products/{product_id}
