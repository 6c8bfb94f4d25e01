from datetime import datetime

from django.db.models import Count, Q, QuerySet

from daemons.models import EXPIRES_AFTER, HEALTHY_WITHIN, Daemon, DaemonStatus
from projects.models import Project


def daemons_for_project(*, project: Project, now: datetime) -> QuerySet[Daemon]:
    """Daemons not yet expired, by name, with their middleware clients; expired ones vanish from view."""
    return Daemon.objects.filter(project=project, last_heartbeat_at__gt=now - EXPIRES_AFTER).prefetch_related(
        "middleware_clients"
    )


def daemon_status_counts(*, project: Project, now: datetime) -> dict[DaemonStatus, int]:
    """How many of the project's daemons are healthy and unhealthy now, counted in the database."""
    healthy = Q(last_heartbeat_at__gt=now - HEALTHY_WITHIN)
    counts = Daemon.objects.filter(project=project, last_heartbeat_at__gt=now - EXPIRES_AFTER).aggregate(
        healthy=Count("pk", filter=healthy), unhealthy=Count("pk", filter=~healthy)
    )
    return {DaemonStatus.HEALTHY: counts["healthy"], DaemonStatus.UNHEALTHY: counts["unhealthy"]}
