"""Alerts: where a project's notifications go (channels), what it watches (monitors), what happened (alerts) and
how each notification went (deliveries and their attempts); and what beat last notified, so nothing repeats."""

from django.db import models

from controlplane.ids import PublicIdField
from daemons.models import Daemon, DaemonStatus
from projects.models import Project


class Event(models.TextChoices):
    DAEMON_UNHEALTHY = "daemon.unhealthy"
    DAEMON_HEALTHY = "daemon.healthy"
    DAEMON_EXPIRED = "daemon.expired"
    ENDPOINT_ERRORS = "endpoint.errors"
    ENDPOINT_LATENCY = "endpoint.latency"
    MODEL_CHANGED = "model.changed"
    TEST = "test"


class AlertChannel(models.Model):
    """Where a project's alerts are sent: a webhook, a Slack-compatible incoming webhook, or an email address."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        SLACK = "slack"
        EMAIL = "email"

    public_id = PublicIdField(prefix="chn")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    email = models.EmailField(blank=True)
    # Signs webhook bodies, so it is stored readable; shown once at creation, never logged.
    secret = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name or self.target

    @property
    def target(self) -> str:
        """Where it sends, as the console and API show it: a Slack URL's last part is its token, so it is hidden."""
        if self.kind == self.Kind.EMAIL:
            return self.email
        if self.kind == self.Kind.SLACK:
            return self.url.rsplit("/", 1)[0] + "/…"
        return self.url


class Monitor(models.Model):
    """Alert when an endpoint's server-error rate or p99 latency passes a threshold, among enough requests."""

    class Kind(models.TextChoices):
        ERRORS = "errors"
        LATENCY = "latency"

    public_id = PublicIdField(prefix="mon")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="monitors")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # errors: percent of requests answered with a 5xx status; latency: p99 in milliseconds.
    threshold = models.FloatField()
    min_requests = models.PositiveIntegerField()
    # `GET /v1/users/{id}` (parameter names aside); blank: every endpoint.
    endpoint = models.CharField(max_length=2100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    @property
    def event(self) -> Event:
        return Event.ENDPOINT_ERRORS if self.kind == self.Kind.ERRORS else Event.ENDPOINT_LATENCY

    @property
    def condition(self) -> str:
        """The monitor in words: `5xx rate over 5% among at least 20 requests`."""
        over = (
            f"5xx rate over {self.threshold:g}%" if self.kind == self.Kind.ERRORS else f"p99 over {self.threshold:g} ms"
        )
        return f"{over} among at least {self.min_requests} requests"


class Alert(models.Model):
    """Something that happened in a project, once: its idempotency key is unique, and it is in every payload."""

    public_id = PublicIdField(prefix="alr")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alerts")
    event = models.CharField(max_length=32, choices=Event.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    occurred_at = models.DateTimeField()
    summary = models.CharField(max_length=500)
    url = models.CharField(max_length=2000)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"])]


class Delivery(models.Model):
    """An alert sent to one channel: never twice (one row per alert and channel, claimed before each attempt)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="delivery_once_per_alert_and_channel")]
        ordering = ["-created_at", "-id"]

    @property
    def last_attempt(self) -> "DeliveryAttempt | None":
        """The latest attempt, from the prefetched log when there is one."""
        attempts = list(self.attempt_log.all())
        return attempts[-1] if attempts else None


class DeliveryAttempt(models.Model):
    """One try at a delivery: when, the receiver's status code and the start of its reply, or what went wrong."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    response_excerpt = models.CharField(max_length=1024, blank=True)
    error = models.CharField(max_length=200, blank=True)
    retry_in_seconds = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_unique")]
        ordering = ["number"]


# What beat last notified, and how far it has read.


class DaemonWatch(models.Model):
    """A daemon's status when it was last notified (or first seen): a transition is a status that differs."""

    daemon = models.OneToOneField(Daemon, on_delete=models.CASCADE, primary_key=True, related_name="+")
    status = models.CharField(max_length=10, choices=DaemonStatus.choices)


class ProjectModelWatch(models.Model):
    """The changes last notified for a project's model, so that a rebuild finding the same ones stays quiet."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    changes_digest = models.CharField(max_length=64)


class ModelScan(models.Model):
    """How far beat has read model versions: every version up to `settled_through` was checked, failed or is
    not worth waiting for; checked versions above it are ScannedModel rows. One row."""

    settled_through = models.BigIntegerField()


class ScannedModel(models.Model):
    """A ready model version above the scan's mark that beat has checked (no foreign key: model versions come
    and go, and deleting one should not touch this table)."""

    model_version_id = models.BigIntegerField(primary_key=True)
