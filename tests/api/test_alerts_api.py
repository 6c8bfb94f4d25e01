"""The alerts API: channels (secret shown once, tests, delivery log), monitors and the alert history."""

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from alerts.models import Alert, AlertChannel, Monitor
from projects.models import Project, User

from ..conftest import Receiver

PROJECT = "/api/v1/projects/shop"
Capture = Callable[..., Any]


@pytest.fixture
def client(alice: User, project: Project, key_client: Callable[..., APIClient]) -> APIClient:
    return key_client(alice)


def test_a_webhook_channel_shows_its_secret_in_the_create_reply_only(client: APIClient, settings: Any) -> None:
    created = client.post(
        f"{PROJECT}/alert-channels", {"kind": "webhook", "url": "https://93.184.215.14/h"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("chn_") and body["secret"].startswith("whsec_")
    assert (body["kind"], body["target"], body["name"]) == ("webhook", "https://93.184.215.14/h", "")
    listed = client.get(f"{PROJECT}/alert-channels").json()
    assert [channel["id"] for channel in listed] == [body["id"]]
    assert "secret" not in listed[0]
    detail = client.get(f"{PROJECT}/alert-channels/{body['id']}").json()
    assert "secret" not in detail and detail["deliveries"] == []


def test_an_email_channel_has_no_secret(client: APIClient) -> None:
    body = client.post(f"{PROJECT}/alert-channels", {"kind": "email", "email": "ops@example.com"}, format="json").json()
    assert (body["kind"], body["target"], body["secret"]) == ("email", "ops@example.com", "")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "kind"),
        ({"kind": "pager"}, "kind"),
        ({"kind": "webhook"}, "url"),
        ({"kind": "webhook", "url": "http://127.0.0.1:9/hook"}, "url"),
        ({"kind": "slack", "url": "http://169.254.169.254/"}, "url"),
        ({"kind": "webhook", "url": "https://x.example/" + "a" * 2000}, "url"),
        ({"kind": "email"}, "email"),
        ({"kind": "email", "email": "not an address"}, "email"),
        ({"kind": "email", "email": "ops@example.com", "name": "n" * 101}, "name"),
    ],
)
def test_a_bad_channel_is_refused_naming_the_field(client: APIClient, data: dict, field: str) -> None:
    response = client.post(f"{PROJECT}/alert-channels", data, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not AlertChannel.objects.exists()


def test_a_channel_is_deleted_with_its_log(client: APIClient) -> None:
    channel = client.post(
        f"{PROJECT}/alert-channels", {"kind": "email", "email": "o@example.com"}, format="json"
    ).json()
    client.post(f"{PROJECT}/alert-channels/{channel['id']}/test")
    assert client.delete(f"{PROJECT}/alert-channels/{channel['id']}").status_code == 204
    assert client.delete(f"{PROJECT}/alert-channels/{channel['id']}").status_code == 404
    assert client.get(f"{PROJECT}/alert-channels/chn_nope").status_code == 404
    assert not AlertChannel.objects.exists()


def test_a_test_notification_reaches_the_receiver_and_shows_in_the_log_and_history(
    client: APIClient, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    channel = client.post(f"{PROJECT}/alert-channels", {"kind": "webhook", "url": receiver.url}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(f"{PROJECT}/alert-channels/{channel['id']}/test")
    assert queued.status_code == 202
    assert (queued.json()["channel_id"], queued.json()["status"]) == (channel["id"], "pending")
    (received,) = receiver.wait_for(1)
    assert received.json()["event"] == "test"
    (delivery,) = client.get(f"{PROJECT}/alert-channels/{channel['id']}").json()["deliveries"]
    assert (delivery["event"], delivery["status"]) == ("test", "delivered")
    (attempt,) = delivery["attempts"]
    assert (attempt["number"], attempt["status_code"], attempt["response_excerpt"]) == (1, 200, "ok")
    (alert,) = client.get(f"{PROJECT}/alerts").json()["results"]
    assert alert["idempotency_key"] == received.json()["idempotency_key"]
    assert [(d["channel_id"], d["status"]) for d in alert["deliveries"]] == [(channel["id"], "delivered")]


def test_monitors_are_added_listed_and_deleted(client: APIClient) -> None:
    created = client.post(
        f"{PROJECT}/monitors",
        {"kind": "latency", "threshold": 750, "min_requests": 50, "endpoint": "get /v1/users/{id}"},
        format="json",
    )
    assert created.status_code == 201
    monitor = created.json()
    assert monitor["id"].startswith("mon_")
    assert (monitor["endpoint"], monitor["condition"]) == (
        "GET /v1/users/{id}",
        "p99 over 750 ms among at least 50 requests",
    )
    errors = client.post(f"{PROJECT}/monitors", {"kind": "errors", "threshold": 5}, format="json").json()
    assert (errors["min_requests"], errors["endpoint"]) == (20, "")
    assert [m["id"] for m in client.get(f"{PROJECT}/monitors").json()] == [monitor["id"], errors["id"]]
    assert client.delete(f"{PROJECT}/monitors/{monitor['id']}").status_code == 204
    assert client.delete(f"{PROJECT}/monitors/{monitor['id']}").status_code == 404
    assert list(Monitor.objects.values_list("public_id", flat=True)) == [errors["id"]]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"threshold": 5}, "kind"),
        ({"kind": "errors"}, "threshold"),
        ({"kind": "errors", "threshold": 100}, "threshold"),
        ({"kind": "errors", "threshold": -1}, "threshold"),
        ({"kind": "latency", "threshold": 0}, "threshold"),
        ({"kind": "errors", "threshold": "NaN"}, "threshold"),
        ({"kind": "errors", "threshold": 5, "min_requests": 0}, "min_requests"),
        ({"kind": "errors", "threshold": 5, "endpoint": "/v1/users"}, "endpoint"),
        ({"kind": "errors", "threshold": 5, "endpoint": "GET v1/users"}, "endpoint"),
    ],
)
def test_a_bad_monitor_is_refused_naming_the_field(client: APIClient, data: dict, field: str) -> None:
    response = client.post(f"{PROJECT}/monitors", data, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Monitor.objects.exists()


def test_a_member_sees_channels_and_sends_tests_but_only_the_owner_adds_or_deletes(
    bob: User, client: APIClient, key_client: Callable[..., APIClient]
) -> None:
    channel = client.post(
        f"{PROJECT}/alert-channels", {"kind": "email", "email": "o@example.com"}, format="json"
    ).json()
    member = key_client(bob)
    assert member.get(f"{PROJECT}/alert-channels").status_code == 200
    assert member.post(f"{PROJECT}/alert-channels/{channel['id']}/test").status_code == 202
    refused = member.post(f"{PROJECT}/alert-channels", {"kind": "email", "email": "b@example.com"}, format="json")
    assert refused.status_code == 403
    assert member.delete(f"{PROJECT}/alert-channels/{channel['id']}").status_code == 403
    assert AlertChannel.objects.count() == 1


def test_the_history_is_newest_first_and_limited(client: APIClient, project: Project) -> None:
    from django.utils import timezone

    for number in range(3):
        Alert.objects.create(
            project=project,
            event="test",
            idempotency_key=f"k{number}",
            occurred_at=timezone.now(),
            summary=f"s{number}",
        )
    assert [a["summary"] for a in client.get(f"{PROJECT}/alerts").json()["results"]] == ["s2", "s1", "s0"]
    first = client.get(f"{PROJECT}/alerts?limit=2").json()
    assert ([a["summary"] for a in first["results"]], first["count"]) == (["s2", "s1"], 3)
    older = client.get(first["next"]).json()
    assert ([a["summary"] for a in older["results"]], older["next"]) == (["s0"], None)
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("limit=1&page=4", "page"),
    ):
        response = client.get(f"{PROJECT}/alerts?{query}")
        assert (response.status_code, response.json()["error"]["field"]) == (400, field)


def test_the_alerts_api_is_documented(client: APIClient) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/projects/{project}/alert-channels"])
    assert "delete" in paths["/api/v1/projects/{project}/alert-channels/{channel}"]
    assert "post" in paths["/api/v1/projects/{project}/alert-channels/{channel}/test"]
    assert {"get", "post"} <= set(paths["/api/v1/projects/{project}/monitors"])
    assert "delete" in paths["/api/v1/projects/{project}/monitors/{monitor}"]
    history = paths["/api/v1/projects/{project}/alerts"]["get"]
    assert "X-Pawprint-Signature" in history["description"] and "idempotency_key" in history["description"]
