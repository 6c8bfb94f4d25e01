from datetime import datetime, timedelta

from django.db import models

from controlplane.ids import PublicIdField
from projects.models import Project
from traces.models import Trace

HEALTHY_WITHIN = timedelta(minutes=1)
EXPIRES_AFTER = timedelta(hours=1)


class DaemonStatus(models.TextChoices):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    EXPIRED = "expired"


class Daemon(models.Model):
    """A daemon serving one project, known by the name it reports; status derives from its last heartbeat."""

    public_id = PublicIdField(prefix="dmn")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="daemons")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    first_seen_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    # What became of the project's entries the daemon received, as its latest heartbeat reported them (totals since
    # `since`, its start): {"since", "received", "uploaded", "pending", "dropped": {reason: count}}; {} until then.
    traffic = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="daemon_name_unique_per_project")]
        ordering = ["name"]

    def get_status(self, now: datetime) -> DaemonStatus:
        age = now - self.last_heartbeat_at
        if age < HEALTHY_WITHIN:
            return DaemonStatus.HEALTHY
        if age < EXPIRES_AFTER:
            return DaemonStatus.UNHEALTHY
        return DaemonStatus.EXPIRED


class MiddlewareClient(models.Model):
    """A middleware (e.g. akita-django) that a daemon reports sending it traffic."""

    daemon = models.ForeignKey(Daemon, on_delete=models.CASCADE, related_name="middleware_clients")
    client_name = models.CharField(max_length=200)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["daemon", "client_name"], name="middleware_client_unique")]
        ordering = ["client_name"]


class TraceReach(models.Model):
    """A daemon's poll acknowledged a trace's start or its stop: the poll's reply carried the change."""

    class Change(models.TextChoices):
        START = "start"
        STOP = "stop"

    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="+")
    daemon_name = models.CharField(max_length=200)
    change = models.CharField(max_length=5, choices=Change.choices)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trace", "change", "daemon_name"], name="trace_reach_once_per_daemon")
        ]
