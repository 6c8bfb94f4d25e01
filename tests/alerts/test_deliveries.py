"""Deliveries to a real local HTTP receiver: signed webhooks, Slack messages, email, retries with backoff, the
delivery log, and the addresses a webhook may not reach."""

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail

from alerts.models import AlertChannel, Delivery, DeliveryAttempt
from alerts.services import channel_create, channel_test, delivery_attempt, retry_delay, slack_message
from controlplane.errors import Invalid
from projects.models import Project

from ..conftest import Receiver

Capture = Callable[..., Any]


@pytest.fixture
def private_urls(settings: Any) -> Any:
    """The receiver listens on 127.0.0.1, which webhooks may reach only when private URLs are allowed."""
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    settings.ALERTS_RETRY_BASE_SECONDS = 0
    return settings


def send_test(channel: AlertChannel, capture: Capture) -> Delivery:
    with capture(execute=True):
        delivery = channel_test(channel=channel)
    delivery.refresh_from_db()
    return delivery


def test_a_webhook_gets_the_payload_signed_with_the_channels_secret(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    channel, secret = channel_create(project=project, kind="webhook", url=receiver.url, name="ops")
    assert secret.startswith("whsec_") and len(secret) > 40
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    (received,) = receiver.wait_for(1)
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["X-Pawprint-Signature"] == expected
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Pawprint-Event"] == "test"
    payload = received.json()
    assert set(payload) == {"event", "project", "occurred_at", "idempotency_key", "summary", "url", "details"}
    assert payload["project"] == {"id": project.public_id, "name": "shop"}
    assert payload["idempotency_key"] == delivery.alert.idempotency_key
    assert payload["url"] == f"http://127.0.0.1:8000/projects/{project.public_id}/alerts/channels/{channel.public_id}/"
    assert payload["occurred_at"].endswith("Z")
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.response_excerpt, attempt.error) == (200, "ok", "")


def test_a_slack_channel_gets_an_incoming_webhook_message(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    channel, secret = channel_create(project=project, kind="slack", url=receiver.url + "/T000/B000/XXXX")
    assert secret == ""
    assert channel.target == receiver.url + "/T000/B000/…"  # the token is not shown back
    send_test(channel, django_capture_on_commit_callbacks)
    (received,) = receiver.wait_for(1)
    message = received.json()
    assert message["text"].startswith("Test notification from Pawprint for shop")
    assert "|Open in Pawprint>" in message["text"]
    assert message["blocks"][0]["type"] == "section"
    assert "X-Pawprint-Signature" not in received.headers


def test_an_email_channel_gets_a_mail(project: Project, django_capture_on_commit_callbacks: Capture) -> None:
    channel, _ = channel_create(project=project, kind="email", email="ops@example.com")
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    (message,) = mail.outbox
    assert (message.to, message.subject) == (["ops@example.com"], "[Pawprint] shop: test")
    assert delivery.alert.url in message.body
    assert delivery.status == "delivered"


def test_a_failing_receiver_is_retried_until_it_gives_up_and_every_attempt_is_logged(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    private_urls.ALERTS_MAX_ATTEMPTS = 3
    receiver.statuses = [500, 502, 503, 200]
    receiver.reply = b'{"error": "down"}'
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    log = list(delivery.attempt_log.values_list("number", "status_code", "response_excerpt", "retry_in_seconds"))
    assert log == [
        (1, 500, '{"error": "down"}', 0.0),
        (2, 502, '{"error": "down"}', 0.0),
        (3, 503, '{"error": "down"}', None),
    ]
    assert len({r.json()["idempotency_key"] for r in receiver.wait_for(3)}) == 1


def test_the_backoff_doubles(settings: Any) -> None:
    settings.ALERTS_RETRY_BASE_SECONDS = 10
    assert [retry_delay(attempt) for attempt in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 160]


def test_a_delivered_alert_is_never_sent_again(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    assert delivery_attempt(delivery_id=delivery.pk) is None  # a redelivered task finds nothing to send
    time.sleep(0.2)
    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.count() == 1


def test_a_reply_is_kept_up_to_1_kb(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    receiver.reply = b"x" * 5000
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    assert len(delivery.attempt_log.get().response_excerpt) == 1024


def test_a_redirect_is_not_followed(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    private_urls.ALERTS_MAX_ATTEMPTS = 1
    receiver.statuses = [302]
    receiver.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    attempt = delivery.attempt_log.get()
    assert (delivery.status, attempt.status_code, attempt.error) == ("failed", 302, "Redirects are not followed.")
    assert len(receiver.requests) == 1


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    private_urls.ALERTS_MAX_ATTEMPTS = 1
    private_urls.ALERTS_TIMEOUT_SECONDS = 0.3
    receiver.delay = 1.0
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    attempt = delivery.attempt_log.get()
    assert (delivery.status, attempt.status_code, attempt.error) == ("failed", None, "Timed out.")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_webhook_to_a_private_loopback_or_link_local_address_is_refused(project: Project, url: str) -> None:
    with pytest.raises(Invalid) as refused:
        channel_create(project=project, kind="webhook", url=url)
    assert refused.value.field == "url"
    assert "private, loopback or link-local" in refused.value.message
    assert not AlertChannel.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "hooks.example.com", "http://user:pw@93.184.215.14/", ""])
def test_a_webhook_url_must_be_plain_http_or_https(project: Project, url: str) -> None:
    with pytest.raises(Invalid) as refused:
        channel_create(project=project, kind="slack", url=url)
    assert refused.value.field == "url"


def test_a_public_address_is_accepted(project: Project) -> None:
    channel, _ = channel_create(project=project, kind="webhook", url="https://93.184.215.14/hook?team=ops")
    assert channel.url == "https://93.184.215.14/hook?team=ops"


def test_the_address_is_checked_again_at_delivery(
    project: Project, receiver: Receiver, private_urls: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url)
    private_urls.ALERTS_ALLOW_PRIVATE_URLS = False  # as if its name now resolved to a private address
    private_urls.ALERTS_MAX_ATTEMPTS = 1
    delivery = send_test(channel, django_capture_on_commit_callbacks)
    attempt = delivery.attempt_log.get()
    assert (delivery.status, attempt.status_code) == ("failed", None)
    assert "private, loopback or link-local" in attempt.error
    assert receiver.requests == []


def test_secrets_and_slack_tokens_are_never_logged(
    project: Project,
    receiver: Receiver,
    private_urls: Any,
    django_capture_on_commit_callbacks: Capture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [500]
    channel, secret = channel_create(project=project, kind="webhook", url=receiver.url)
    slack, _ = channel_create(project=project, kind="slack", url=receiver.url + "/T0/B0/slack-token")
    send_test(channel, django_capture_on_commit_callbacks)
    send_test(slack, django_capture_on_commit_callbacks)
    assert len(receiver.wait_for(3)) == 3
    assert caplog.records
    assert not [
        record for record in caplog.records if secret in record.getMessage() or "slack-token" in record.getMessage()
    ]


def test_a_slack_message_of_a_breaking_change_lists_what_breaks() -> None:
    change = {"method": "GET", "path": "/v1/orders/{id}", "breaking": True, "reason": "response field removed"}
    payload = {
        "event": "model.changed",
        "project": {"id": "prj_1", "name": "shop"},
        "summary": "The API of shop changed in a way that breaks clients.",
        "url": "http://pawprint.test/projects/prj_1/diff/",
        "details": {"removed": [], "changed": [change, {**change, "path": "/v1/ok", "breaking": False}]},
    }
    message = slack_message(payload)
    assert message["blocks"][0]["text"]["text"] == (
        "*The API of shop changed in a way that breaks clients.*\n• GET /v1/orders/{id}: response field removed"
    )
    assert message["blocks"][1]["elements"][0]["text"] == "`model.changed` · shop"
