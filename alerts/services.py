"""Channels and monitors (what users set up), alerts (raised once) and their deliveries (sent once per channel)."""

import functools
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertChannel, Delivery, DeliveryAttempt, Event, Monitor
from alerts.senders import Outcome, UnsafeUrl, json_body, post_json, resolve_target, send_email
from controlplane.errors import Invalid
from projects.models import Project

logger = logging.getLogger(__name__)

MAX_CHANNELS = 20
MAX_MONITORS = 50
# A delivery still `sending` after this long lost its worker (tasks are acks_late and redelivered).
STALE_SENDING = timedelta(minutes=5)
SIGNATURE_HEADER = "X-Pawprint-Signature"
_ENDPOINT = re.compile(r"^([A-Za-z]{1,16}) (/\S*)$")


# Channels


def _valid_url(url: str) -> str:
    if not url:
        raise Invalid("A URL is required for this kind of channel.", field="url")
    if len(url) > 2000:
        raise Invalid("At most 2000 characters.", field="url")
    try:
        resolve_target(url)
    except UnsafeUrl as error:
        raise Invalid(str(error), field="url") from error
    return url


def channel_create(
    *, project: Project, kind: str, name: str = "", url: str = "", email: str = ""
) -> tuple[AlertChannel, str]:
    """Add a channel; returns it with the webhook's signing secret (empty for other kinds), shown only now."""
    if kind not in AlertChannel.Kind.values:
        raise Invalid(f"Must be one of: {', '.join(AlertChannel.Kind.values)}.", field="kind")
    if AlertChannel.objects.filter(project=project).count() >= MAX_CHANNELS:
        raise Invalid(f"A project has at most {MAX_CHANNELS} alert channels.", field="kind")
    secret = ""
    if kind == AlertChannel.Kind.EMAIL:
        try:
            validate_email(email)
        except ValidationError as error:
            raise Invalid("A valid email address is required.", field="email") from error
        url = ""
    else:
        url, email = _valid_url(url), ""
        if kind == AlertChannel.Kind.WEBHOOK:
            secret = "whsec_" + secrets.token_urlsafe(32)
    channel = AlertChannel.objects.create(project=project, kind=kind, name=name, url=url, email=email, secret=secret)
    return channel, secret


def channel_delete(*, channel: AlertChannel) -> None:
    channel.delete()


def channel_test(*, channel: AlertChannel, now: datetime | None = None) -> Delivery:
    """Send a test notification to this channel only; it appears in the channel's delivery log."""
    now = now or timezone.now()
    project = channel.project
    alert = alert_raise(
        project=project,
        event=Event.TEST,
        key=f"test:{uuid.uuid4()}",
        occurred_at=now,
        summary=f"Test notification from Pawprint for {project.name}: this channel works.",
        path=reverse("alert-channel-detail", kwargs={"project": project.public_id, "channel": channel.public_id}),
        details={"channel": {"id": channel.public_id, "kind": channel.kind, "name": channel.name}},
        channels=[channel],
    )
    assert alert is not None  # a new random key is never taken
    return alert.deliveries.get()


# Monitors


def _endpoint_spec(endpoint: str) -> str:
    match = _ENDPOINT.match(endpoint)
    if not match:
        raise Invalid(
            "A method and a path template, like `GET /v1/users/{id}`, or blank for every endpoint.", field="endpoint"
        )
    return f"{match[1].upper()} {match[2]}"


def monitor_create(
    *, project: Project, kind: str, threshold: float, min_requests: int = 20, endpoint: str = ""
) -> Monitor:
    """Watch endpoints' 5xx rate (threshold in percent) or p99 latency (threshold in ms)."""
    if kind not in Monitor.Kind.values:
        raise Invalid(f"Must be one of: {', '.join(Monitor.Kind.values)}.", field="kind")
    if kind == Monitor.Kind.ERRORS and not 0 <= threshold < 100:
        raise Invalid("A percentage from 0 up to (not including) 100.", field="threshold")
    if kind == Monitor.Kind.LATENCY and not 0 < threshold <= 3_600_000:
        raise Invalid("Milliseconds, more than 0.", field="threshold")
    if not 1 <= min_requests <= 1_000_000_000:
        raise Invalid("At least 1 request.", field="min_requests")
    if Monitor.objects.filter(project=project).count() >= MAX_MONITORS:
        raise Invalid(f"A project has at most {MAX_MONITORS} monitors.", field="kind")
    spec = _endpoint_spec(endpoint.strip()) if endpoint.strip() else ""
    return Monitor.objects.create(
        project=project, kind=kind, threshold=threshold, min_requests=min_requests, endpoint=spec
    )


def monitor_delete(*, monitor: Monitor) -> None:
    monitor.delete()


# Alerts and their deliveries


def alert_raise(
    *,
    project: Project,
    event: Event,
    key: str,
    occurred_at: datetime,
    summary: str,
    path: str,
    details: dict[str, Any],
    channels: list[AlertChannel] | None = None,
) -> Alert | None:
    """Record an alert once (None when its key was raised already) and queue its delivery to the project's
    channels (or to `channels`), after commit."""
    from alerts.tasks import delivery_send  # the task module imports these services

    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                project=project,
                event=event,
                idempotency_key=key,
                occurred_at=occurred_at,
                summary=summary[:500],
                url=settings.SITE_URL.rstrip("/") + path,
                details=details,
            )
            targets = channels if channels is not None else list(project.alert_channels.all())
            deliveries = [Delivery.objects.create(alert=alert, channel=channel) for channel in targets]
    except IntegrityError:
        return None
    for delivery in deliveries:
        transaction.on_commit(functools.partial(delivery_send.delay, delivery.pk))
    logger.info("alert %s %s raised for project %s", alert.public_id, event, project.public_id)
    return alert


def alert_payload(alert: Alert) -> dict[str, Any]:
    """What every channel is told, as JSON; the idempotency key lets receivers drop a repeat."""
    return {
        "event": alert.event,
        "project": {"id": alert.project.public_id, "name": alert.project.name},
        "occurred_at": alert.occurred_at.isoformat().replace("+00:00", "Z"),
        "idempotency_key": alert.idempotency_key,
        "summary": alert.summary,
        "url": alert.url,
        "details": alert.details,
    }


def webhook_signature(secret: str, body: bytes) -> str:
    """`X-Pawprint-Signature`: the hex HMAC-SHA256 of the exact body bytes, keyed with the channel's secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, blocks for the channel."""
    lines = [f"*{payload['summary']}*"]
    if payload["event"] == Event.MODEL_CHANGED:
        changes = payload["details"]["removed"] + payload["details"]["changed"]
        lines += [f"• {c['method']} {c['path']}: {c['reason']}" for c in changes if c["breaking"]][:10]
    return {
        "text": f"{payload['summary']} <{payload['url']}|Open in Pawprint>",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"`{payload['event']}` · {payload['project']['name']}"},
                    {"type": "mrkdwn", "text": f"<{payload['url']}|Open in Pawprint>"},
                ],
            },
        ],
    }


def _send(channel: AlertChannel, payload: dict[str, Any]) -> Outcome:
    if channel.kind == AlertChannel.Kind.EMAIL:
        text = f"{payload['summary']}\n\n{payload['url']}\n\n{json_body(payload['details']).decode()}\n"
        return send_email(channel.email, f"[Pawprint] {payload['project']['name']}: {payload['event']}", text)
    if channel.kind == AlertChannel.Kind.SLACK:
        return post_json(channel.url, json_body(slack_message(payload)), {})
    body = json_body(payload)
    headers = {SIGNATURE_HEADER: webhook_signature(channel.secret, body), "X-Pawprint-Event": payload["event"]}
    return post_json(channel.url, body, headers)


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take a pending delivery, or one whose worker died mid-send; a conditional update, so only one worker
    sends it at a time and none after it was delivered."""
    claimable = Q(status=Delivery.Status.PENDING) | Q(
        status=Delivery.Status.SENDING, updated_at__lt=now - STALE_SENDING
    )
    return bool(
        Delivery.objects.filter(claimable, pk=delivery_id).update(
            status=Delivery.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
        )
    )


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt` (1, 2, …): exponential backoff."""
    return float(settings.ALERTS_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> float | None:
    """Try a delivery once and log the attempt; returns the seconds to wait before retrying, or None when it
    was delivered, failed for good, or is not this call's to send."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("alert__project", "channel").filter(pk=delivery_id).first()
    if delivery is None:  # its channel was deleted meanwhile
        return None
    outcome = _send(delivery.channel, alert_payload(delivery.alert))
    retry_in = None
    if outcome.delivered:
        status = Delivery.Status.DELIVERED
    elif delivery.attempts >= settings.ALERTS_MAX_ATTEMPTS:
        status = Delivery.Status.FAILED
    else:
        status, retry_in = Delivery.Status.PENDING, retry_delay(delivery.attempts)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            attempted_at=now,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            retry_in_seconds=retry_in,
        )
        Delivery.objects.filter(pk=delivery.pk).update(status=status, updated_at=timezone.now())
    logger.info(
        "alert %s to channel %s: attempt %d %s",
        delivery.alert.public_id,
        delivery.channel.public_id,
        delivery.attempts,
        status,
    )
    return retry_in
