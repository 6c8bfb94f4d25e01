"""A witness can never poison a build, and every input is bounded: each poison found is refused with a 400 naming
the field, or stored cut to fit and counted on the trace, and the trace's model builds afterwards."""

import json

import pytest

from apimodels.models import ModelEndpoint, ModelVersion
from traces.models import Trace, WitnessBatch
from traces.services import trace_stop

SURROGATE = "\\ud800"  # a lone UTF-16 surrogate, as JSON escapes it


def upload(daemon, trace: Trace, entries: list[dict], batch_id: str = "b-1", raw: dict[str, str] | None = None):
    """Post a batch; `raw` replaces placeholders in the JSON text (for what json.dumps cannot write)."""
    text = json.dumps({"daemon_name": "web-1", "batch_id": batch_id, "entries": entries})
    for placeholder, replacement in (raw or {}).items():
        text = text.replace(placeholder, replacement)
    url = f"/api/v1/projects/shop/traces/{trace.public_id}/witnesses"
    return daemon.post(url, text.encode(), content_type="application/json")


@pytest.fixture
def assert_refused(daemon, trace, entry, django_capture_on_commit_callbacks):
    """A 400 naming `field` that stores nothing; then the batch as the client fixes it goes in, and builds."""

    def check(response, field: str) -> None:
        assert response.status_code == 400, response.content
        assert response.json()["error"]["field"] == field
        assert not WitnessBatch.objects.exists()
        assert upload(daemon, trace, [entry()], batch_id="fixed").status_code == 202
        build(trace, django_capture_on_commit_callbacks)

    return check


def build(trace: Trace, django_capture_on_commit_callbacks) -> ModelVersion:
    with django_capture_on_commit_callbacks(execute=True):
        trace_stop(trace=trace)
    version = ModelVersion.objects.get(trace=trace)
    assert version.status == ModelVersion.BuildStatus.READY, version.error
    return version


def test_a_lone_surrogate_in_a_path_is_refused_naming_the_field(daemon, trace, entry, assert_refused) -> None:
    response = upload(daemon, trace, [entry(url="https://api.shop.test/v1/@@")], raw={"@@": SURROGATE})
    assert_refused(response, "entries[0].request.url")


def test_a_lone_surrogate_in_a_header_name_is_refused_naming_the_field(daemon, trace, entry, assert_refused) -> None:
    poisoned = entry()
    poisoned["request"]["headers"] = [{"name": "x-@@", "value": "1"}]
    assert_refused(upload(daemon, trace, [poisoned], raw={"@@": SURROGATE}), "entries[0].request.headers[0].name")


def test_a_lone_surrogate_in_a_key_of_the_batch_is_refused_escaped(daemon, trace, entry, assert_refused) -> None:
    response = upload(daemon, trace, [{**entry(), "@@": 1}], raw={"@@": SURROGATE})
    assert_refused(response, "entries[0].\\ud800")


def test_a_lone_surrogate_in_a_body_key_is_stored_replaced(
    daemon, trace, entry, django_capture_on_commit_callbacks
) -> None:
    poisoned = entry(body={"@@": 1})
    poisoned["response"]["content"]["text"] = poisoned["response"]["content"]["text"].replace("@@", SURROGATE)
    assert upload(daemon, trace, [poisoned, entry()]).status_code == 202
    [witness, _] = WitnessBatch.objects.get().witnesses
    assert witness["response"]["body"]["properties"] == {"?": {"type": "integer"}}
    build(trace, django_capture_on_commit_callbacks)


def test_a_huge_time_is_dropped_and_counted(daemon, trace, entry, django_capture_on_commit_callbacks) -> None:
    response = upload(daemon, trace, [entry(time_ms=1e308), entry()])
    assert response.status_code == 202
    assert Trace.objects.get(pk=trace.pk).clamped == {"time_out_of_range": 1}
    version = build(trace, django_capture_on_commit_callbacks)
    assert ModelEndpoint.objects.get(model_version=version).latency_p99_ms == pytest.approx(12.5, rel=0.05)


def test_a_path_past_2000_characters_is_cut_and_counted(
    daemon, trace, entry, key_client, alice, django_capture_on_commit_callbacks
) -> None:
    long = "https://api.shop.test/v1/" + "a" * 3000
    assert upload(daemon, trace, [entry(url=long)]).status_code == 202
    assert upload(daemon, trace, [entry(url=long)], batch_id="b-2").status_code == 202
    assert len(WitnessBatch.objects.filter(batch_id="b-1").get().witnesses[0]["path"]) == 2000
    shown = key_client(alice).get(f"/api/v1/projects/shop/traces/{trace.public_id}").json()
    assert shown["clamped"] == {"path_truncated": 2}
    build(trace, django_capture_on_commit_callbacks)


def test_a_host_past_255_characters_is_refused(daemon, trace, entry, assert_refused) -> None:
    response = upload(daemon, trace, [entry(url=f"https://{'h' * 250}.shop.test/v1")])
    assert_refused(response, "entries[0].request.url")
    assert "255" in response.json()["error"]["message"]


def test_a_method_past_16_letters_is_refused(daemon, trace, entry, assert_refused) -> None:
    assert_refused(upload(daemon, trace, [entry(method="A" * 20)]), "entries[0].request.method")


@pytest.mark.parametrize("started", ["yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00", 17])
def test_started_date_time_must_be_iso_8601(daemon, trace, entry, started, assert_refused) -> None:
    poisoned = {**entry(), "startedDateTime": started}
    assert_refused(upload(daemon, trace, [poisoned]), "entries[0].startedDateTime")


def test_500_status_codes_on_one_endpoint_build(daemon, trace, entry, django_capture_on_commit_callbacks) -> None:
    entries = [entry(status=status) for status in range(100, 600)]
    for start in range(0, 500, 250):
        assert upload(daemon, trace, entries[start : start + 250], batch_id=f"b-{start}").status_code == 202
    version = build(trace, django_capture_on_commit_callbacks)
    assert len(ModelEndpoint.objects.get(model_version=version).status_code_list) == 500


def test_200_api_key_header_names_on_one_endpoint_build(
    daemon, trace, entry, django_capture_on_commit_callbacks
) -> None:
    entries = []
    for n in range(200):
        keyed = entry()
        keyed["request"]["headers"] = [{"name": f"x-tenant-{n:03d}-some-long-prefix-api-key", "value": "k" * 20}]
        entries.append(keyed)
    assert upload(daemon, trace, entries).status_code == 202
    version = build(trace, django_capture_on_commit_callbacks)
    assert len(ModelEndpoint.objects.get(model_version=version).auth_list) == 200


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    "url", ["/api/v1/projects/shop/traces", "/api/v1/daemon/heartbeat", "/api/v1/projects/shop/daemon"]
)
def test_json_nested_10000_deep_is_a_400(alice, project, key_client, url) -> None:
    response = key_client(alice).post(url, deep(10_000), content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["error"]["message"]


def test_a_batch_nested_10000_deep_is_a_400(daemon, trace) -> None:
    url = f"/api/v1/projects/shop/traces/{trace.public_id}/witnesses"
    body = b'{"daemon_name": "d", "batch_id": "b", "entries": [' + deep(10_000) + b"]}"
    assert daemon.post(url, body, content_type="application/json").status_code == 400


def test_a_lone_surrogate_in_the_long_polls_daemon_name_is_a_400(daemon, project) -> None:
    body = b'{"daemon_name": "web-\\ud800", "active_trace_ids": []}'
    response = daemon.post("/api/v1/projects/shop/daemon", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "daemon_name"


@pytest.mark.parametrize("field", ["projects", "middleware"])
def test_heartbeat_lists_are_bounded(daemon, project, field) -> None:
    item = "shop" if field == "projects" else {"project": "shop", "client_name": "akita-django"}
    body = {"daemon_name": "d", "projects": ["shop"], field: [item] * 101}
    response = daemon.post("/api/v1/daemon/heartbeat", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_bodies_are_bounded_per_endpoint(daemon, trace, entry) -> None:
    padding = "x" * 100_000
    poll = daemon.post("/api/v1/projects/shop/daemon", {"daemon_name": "d", "pad": padding}, format="json")
    assert poll.status_code == 413
    assert poll.json()["error"]["code"] == "too_large"
    start = daemon.post("/api/v1/projects/shop/traces", {"duration_minutes": 5, "pad": padding * 3}, format="json")
    assert start.status_code == 413
    # a witness batch takes more than either
    big = entry(body={"items": ["y" * 1000] * 300})
    assert upload(daemon, trace, [big]).status_code == 202


def test_djangos_own_400_404_and_405_are_json_on_the_api(alice, project, key_client) -> None:
    client = key_client(alice)
    query = "&".join(f"p{n}=1" for n in range(1001))
    too_many = client.get(f"/api/v1/projects?{query}")
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "invalid"
    assert client.get("/api/v1/no-such-thing").json()["error"]["code"] == "not_found"
    not_allowed = client.delete("/api/v1/projects/shop/traces")
    assert not_allowed.status_code == 405
    assert {"GET", "POST"} <= set(not_allowed["Allow"].split(", "))
    assert not_allowed.json()["error"]["code"] == "method_not_allowed"
    poll = client.get("/api/v1/projects/shop/daemon")
    assert (poll.status_code, poll["Allow"]) == (405, "POST")
    assert poll.json()["error"]["code"] == "method_not_allowed"


def test_a_project_cannot_be_named_like_a_console_url(alice, key_client) -> None:
    response = key_client(alice).post("/api/v1/projects", {"name": "new"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "name"
