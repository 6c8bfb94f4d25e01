"""model.changed and monitors, from HARs through the real build path (uploaded, built, scanned by beat)."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from alerts import tasks
from alerts.models import Alert, AlertChannel, ScannedModel
from alerts.services import channel_create, monitor_create
from apimodels.models import ModelVersion
from apimodels.services import model_build, model_rebuild, models_build_live
from projects.models import Project, User
from traces.models import Trace
from traces.services import trace_start, witnesses_ingest

from ..conftest import FIXTURES, Receiver, har_entry, har_upload

API = "https://api.shop.test"
Capture = Callable[..., Any]


def request(method: str, path: str, body: object, response: object, status: int = 200, time_ms: float = 12) -> dict:
    entry = har_entry(method, API + path, status=status, body=response, time_ms=time_ms)
    if body is not None:
        entry["request"]["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
        entry["request"]["headers"] = [{"name": "Content-Type", "value": "application/json"}]
    return entry


def har(*entries: dict) -> bytes:
    return json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}}
    ).encode()


# The orders API; then the same API, except that a note is now always sent and an order no longer has a status;
# and the first one with one more endpoint.
ORDERS, ORDERS_BREAKING, ORDERS_NEW_ENDPOINT = (
    (FIXTURES / name).read_bytes() for name in ("orders.har", "orders-breaking.har", "orders-new-endpoint.har")
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def upload(project: Project, alice: User, django_capture_on_commit_callbacks: Capture) -> Callable[..., Trace]:
    """Upload a HAR whose model is built at once (eager tasks, after commit), as a worker would."""

    def run(content: bytes) -> Trace:
        with django_capture_on_commit_callbacks(execute=True):
            trace = har_upload(project=project, user=alice, content=content)
        assert trace.model_versions.get().status == ModelVersion.BuildStatus.READY
        return trace

    return run


@pytest.fixture
def beat(django_capture_on_commit_callbacks: Capture) -> Callable[[], list[Alert]]:
    """Run the model watch as beat does; returns the alerts it raised (delivered after commit)."""

    def run() -> list[Alert]:
        before = set(Alert.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            tasks.models_watch()
        return list(Alert.objects.exclude(pk__in=before).order_by("pk"))

    return run


@pytest.fixture
def webhook(project: Project, receiver: Receiver, settings: Any) -> AlertChannel:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    channel, _ = channel_create(project=project, kind=AlertChannel.Kind.WEBHOOK, url=receiver.url)
    return channel


def test_a_har_that_drops_a_response_field_and_requires_a_request_field_is_a_breaking_change(
    upload: Callable[..., Trace], beat: Callable[[], list[Alert]], webhook: AlertChannel, receiver: Receiver
) -> None:
    before = upload(ORDERS)
    assert beat() == []  # the first model has nothing to differ from
    after = upload(ORDERS_BREAKING)
    (alert,) = beat()
    assert alert.event == "model.changed"
    (received,) = receiver.wait_for(1)
    payload = received.json()
    assert set(payload) == {"event", "project", "occurred_at", "idempotency_key", "summary", "url", "details"}
    assert payload["event"] == "model.changed"
    assert payload["idempotency_key"] == alert.idempotency_key
    details = payload["details"]
    assert details["breaking"] is True
    assert (details["added"], details["removed"]) == ([], [])
    changes = {(c["method"], c["path"], c["field"]): c for c in details["changed"]}
    note = changes[("POST", "/v1/orders", "$.note")]
    assert (note["breaking"], note["reason"], note["in"]) == (
        True,
        "request field became required",
        "request application/json",
    )
    (status,) = [c for key, c in changes.items() if key[0] == "GET" and key[2] == "$.status"]
    assert (status["breaking"], status["reason"]) == (True, "response field removed")
    assert status["path"].startswith("/v1/orders/{")
    assert details["base"]["trace"]["id"] == before.public_id
    assert details["head"]["trace"]["id"] == after.public_id
    assert payload["summary"] == (
        "The API of shop changed in a way that breaks clients: POST /v1/orders ($.note): request field became "
        "required, and 1 more breaking change; 2 changes in endpoints."
    )
    assert f"/diff/?base={details['base']['model']}&head={details['head']['model']}" in payload["url"]
    assert beat() == []  # nothing new, nothing repeated


def test_a_har_that_only_adds_an_endpoint_is_not_breaking(
    upload: Callable[..., Trace], beat: Callable[[], list[Alert]]
) -> None:
    upload(ORDERS)
    beat()
    upload(ORDERS_NEW_ENDPOINT)
    (alert,) = beat()
    assert alert.details["breaking"] is False
    assert [(e["method"], e["path"], e["breaking"]) for e in alert.details["added"]] == [
        ("GET", "/v1/customers", False)
    ]
    assert alert.details["changed"] == []
    assert "changed compatibly: 1 endpoint added" in alert.summary


def test_the_same_traffic_again_raises_nothing(upload: Callable[..., Trace], beat: Callable[[], list[Alert]]) -> None:
    upload(ORDERS)
    upload(ORDERS)
    assert beat() == []


def test_a_rebuild_that_finds_the_same_changes_stays_quiet(
    upload: Callable[..., Trace], beat: Callable[[], list[Alert]], django_capture_on_commit_callbacks: Capture
) -> None:
    upload(ORDERS)
    after = upload(ORDERS_BREAKING)
    assert len(beat()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        model_rebuild(trace=after)
    # the rebuild (same traffic, same path hints) supersedes the version it rebuilt
    assert list(after.model_versions.values_list("version", "status")) == [(2, "ready")]
    assert beat() == []


def test_the_comparison_waits_for_final_builds_still_pending(
    project: Project, alice: User, upload: Callable[..., Trace], beat: Callable[[], list[Alert]]
) -> None:
    upload(ORDERS)
    queued = har_upload(project=project, user=alice, content=ORDERS_BREAKING)  # its build is not run yet
    assert beat() == []
    version = queued.model_versions.get()
    assert version.status == "queued"
    model_build(model_id=version.pk, task_id="test")
    (alert,) = beat()
    assert alert.details["head"]["trace"]["id"] == queued.public_id


def test_the_scan_remembers_only_versions_above_its_mark(
    upload: Callable[..., Trace], beat: Callable[[], list[Alert]]
) -> None:
    upload(ORDERS)
    beat()
    assert not ScannedModel.objects.exists()  # nothing pending: the mark moved past every version


# Monitors

FAILING = [request("GET", f"/v1/orders/{n}", None, {"error": "boom"}, 500) for n in range(1, 4)] + [
    request("GET", "/v1/orders/4", None, {"id": 4}, 200)
]


def test_an_endpoint_over_the_error_rate_raises_endpoint_errors_once_per_trace(
    project: Project,
    upload: Callable[..., Trace],
    beat: Callable[[], list[Alert]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    monitor = monitor_create(project=project, kind="errors", threshold=50, min_requests=4)
    trace = upload(har(*FAILING, request("GET", "/v1/products", None, [])))
    (alert,) = beat()
    assert alert.event == "endpoint.errors"
    details = alert.details
    assert (details["requests"], details["server_errors"], details["error_rate_percent"]) == (4, 3, 75.0)
    assert details["endpoint"]["method"] == "GET" and details["endpoint"]["path"].startswith("/v1/orders/{")
    assert details["monitor"] == {"id": monitor.public_id, "condition": "5xx rate over 50% among at least 4 requests"}
    assert (details["trace"]["id"], details["live"]) == (trace.public_id, False)
    assert "75.0% of 4 requests" in alert.summary
    assert beat() == []
    with django_capture_on_commit_callbacks(execute=True):
        model_rebuild(trace=trace)
    assert beat() == []  # the same trace's endpoint was alerted on already
    assert [alert.event for alert in Alert.objects.all()] == ["endpoint.errors"]


@pytest.mark.parametrize(
    ("threshold", "min_requests", "endpoint", "alerted"),
    [
        (75, 4, "", False),  # 75% is not over 75%
        (50, 5, "", False),  # too few requests
        (50, 4, "POST /v1/orders", False),  # another endpoint
        (50, 4, "get /v1/orders/{id}", True),  # parameter names and the method's case aside
    ],
)
def test_a_monitor_fires_only_over_its_threshold_among_enough_requests_of_its_endpoint(
    project: Project,
    upload: Callable[..., Trace],
    beat: Callable[[], list[Alert]],
    threshold: float,
    min_requests: int,
    endpoint: str,
    alerted: bool,
) -> None:
    monitor_create(project=project, kind="errors", threshold=threshold, min_requests=min_requests, endpoint=endpoint)
    upload(har(*FAILING))
    assert len(beat()) == alerted


def test_a_slow_endpoint_raises_endpoint_latency(
    project: Project, upload: Callable[..., Trace], beat: Callable[[], list[Alert]]
) -> None:
    monitor_create(project=project, kind="latency", threshold=500, min_requests=50)
    reports = [request("GET", "/v1/reports", None, {"rows": []}, time_ms=40 if n < 48 else 2400) for n in range(50)]
    upload(har(*reports, request("GET", "/v1/products", None, [])))
    (alert,) = beat()
    assert alert.event == "endpoint.latency"
    assert alert.details["endpoint"]["path"] == "/v1/reports"
    assert alert.details["p99_ms"] > 500
    assert "p99 latency" in alert.summary


def test_monitors_check_live_builds_of_an_active_trace(
    project: Project, alice: User, beat: Callable[[], list[Alert]], django_capture_on_commit_callbacks: Capture
) -> None:
    monitor_create(project=project, kind="errors", threshold=10, min_requests=4)
    with time_machine.travel(T0, tick=False) as clock:
        trace = trace_start(project=project, user=alice, duration_minutes=15)
        witnesses_ingest(trace=trace, daemon_name="web-1", batch_id="b1", entries=FAILING)
        clock.shift(30)  # beat folds what arrived before the last few seconds
        with django_capture_on_commit_callbacks(execute=True):
            assert models_build_live() == 1
        live = trace.model_versions.get()
        assert (live.incremental, live.status) == (True, "ready")
        (alert,) = beat()
    assert (alert.event, alert.details["live"], alert.details["model"]) == ("endpoint.errors", True, live.public_id)
