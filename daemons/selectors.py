from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from daemons.models import EXPIRES_AFTER, HEALTHY_WITHIN, Daemon, DaemonStatus, TraceReach
from projects.models import Project
from traces.models import Trace, TraceStatus

# Polls learn a stop within a second, or within the fallback interval while Redis is away; then reach is final.
REACH_SETTLES_WITHIN = timedelta(minutes=1)


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


@dataclass
class Reach:
    """A trace's latest change (its start while active, else its stop) and how many daemons learnt it: `reached`
    of `daemons`, the project's healthy daemons and any other that learnt it."""

    change: str
    reached: int
    daemons: int
    can_change: bool  # more daemons may still learn it


def trace_reach(*, trace: Trace, now: datetime) -> Reach | None:
    """How far the trace's start or stop reached; None for a trace no daemon captures (an uploaded HAR)."""
    if trace.source != Trace.Source.LIVE:
        return None
    active = trace.get_status(now) == TraceStatus.ACTIVE
    change = TraceReach.Change.START if active else TraceReach.Change.STOP
    acknowledged = TraceReach.objects.filter(trace=trace, change=change).values("daemon_name")
    daemons = Daemon.objects.filter(project_id=trace.project_id).filter(
        Q(last_heartbeat_at__gt=now - HEALTHY_WITHIN) | Q(name__in=acknowledged)
    )
    return Reach(
        change=change,
        reached=acknowledged.count(),
        daemons=daemons.count(),
        can_change=active or now < trace.closed_at + REACH_SETTLES_WITHIN,
    )


class DaemonReaches:
    """`traces.reach.TraceReaches`, registered when Django starts."""

    def reach(self, trace: Trace, now: datetime) -> Reach | None:
        return trace_reach(trace=trace, now=now)
