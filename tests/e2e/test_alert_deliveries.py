"""A real Celery worker delivers alerts on its own queue, retrying a failing receiver with exponential backoff."""

import itertools
import time
from typing import Any

import pytest

from alerts.models import Delivery
from alerts.services import channel_create, channel_test
from projects.models import Project

from ..conftest import Receiver

BACKOFF = 0.4


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"ALERTS_ALLOW_PRIVATE_URLS": "1", "ALERTS_RETRY_BASE_SECONDS": str(BACKOFF)}


@pytest.mark.worker
def test_a_failing_receiver_gets_retries_with_backoff_and_the_log_shows_every_attempt(
    celery_worker: Any, project: Project, receiver: Receiver, settings: Any
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    receiver.statuses = [500, 500, 503]
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = channel_test(channel=channel)
    received = receiver.wait_for(4, timeout=60)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    # Never sooner than the backoff (the filesystem broker of `make run` polls each second, so it may be later).
    assert all(gap >= 0.95 * planned for gap, planned in zip(gaps, [BACKOFF, 2 * BACKOFF, 4 * BACKOFF], strict=True)), (
        gaps
    )
    assert len({request.json()["idempotency_key"] for request in received}) == 1
    deadline = time.monotonic() + 10
    while (delivery := Delivery.objects.get(pk=delivery.pk)).status != "delivered":
        assert time.monotonic() < deadline, delivery.status
        time.sleep(0.1)
    log = list(delivery.attempt_log.values_list("number", "status_code", "retry_in_seconds"))
    assert log == [(1, 500, BACKOFF), (2, 500, 2 * BACKOFF), (3, 503, 4 * BACKOFF), (4, 200, None)]
    assert delivery.attempts == 4
