from django.db.models import Prefetch, QuerySet

from alerts.models import Alert, AlertChannel, Delivery, Monitor
from controlplane.errors import NotFound
from projects.models import Project

HISTORY_LIMIT = 100
DELIVERY_LOG_LIMIT = 100


def channels_for_project(*, project: Project) -> QuerySet[AlertChannel]:
    return AlertChannel.objects.filter(project=project)


def channel_for_project(*, project: Project, channel_id: str) -> AlertChannel:
    """A channel of the project by its id; NotFound otherwise."""
    channel = AlertChannel.objects.filter(project=project, public_id=channel_id).select_related("project").first()
    if channel is None:
        raise NotFound("No such alert channel.")
    return channel


def monitors_for_project(*, project: Project) -> QuerySet[Monitor]:
    return Monitor.objects.filter(project=project)


def monitor_for_project(*, project: Project, monitor_id: str) -> Monitor:
    monitor = Monitor.objects.filter(project=project, public_id=monitor_id).first()
    if monitor is None:
        raise NotFound("No such monitor.")
    return monitor


def _deliveries_with_attempts() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("channel").prefetch_related("attempt_log")


def alert_history(*, project: Project) -> QuerySet[Alert]:
    """The project's alerts, newest first, each with its deliveries and their attempts (fetched for the slice read)."""
    alerts = Alert.objects.filter(project=project).select_related("project")
    return alerts.prefetch_related(Prefetch("deliveries", queryset=_deliveries_with_attempts()))


def delivery_log(*, channel: AlertChannel, limit: int = DELIVERY_LOG_LIMIT) -> list[Delivery]:
    """The channel's newest deliveries, each with its alert and every attempt."""
    return list(_deliveries_with_attempts().filter(channel=channel).select_related("alert")[:limit])
