from datetime import datetime

from daemons.models import EXPIRES_AFTER, Daemon
from projects.models import Project


def daemons_for_project(*, project: Project, now: datetime) -> list[Daemon]:
    """Daemons not yet expired, with their middleware clients; expired ones vanish from view."""
    return list(
        Daemon.objects.filter(project=project, last_heartbeat_at__gt=now - EXPIRES_AFTER).prefetch_related(
            "middleware_clients"
        )
    )
