from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.errors import Invalid, NotFound
from daemons.models import Daemon, MiddlewareClient
from projects.models import Project, User
from projects.selectors import project_for_user, projects_for_user


def daemon_touch(*, project: Project, daemon_name: str, now: datetime, version: str = "") -> Daemon:
    """Record that a daemon of the project is alive (heartbeats and polls both count)."""
    defaults: dict[str, object] = {"last_heartbeat_at": now}
    if version:
        defaults["version"] = version
    daemon, _ = Daemon.objects.update_or_create(
        project=project,
        name=daemon_name,
        defaults=defaults,
        create_defaults={**defaults, "first_seen_at": now},
    )
    return daemon


def daemon_heartbeat(
    *,
    user: User,
    daemon_name: str,
    now: datetime,
    version: str = "",
    project_refs: list[str] | None = None,
    middleware: list[dict[str, str]] | None = None,
) -> list[Daemon]:
    """A heartbeat for each named project, or for the projects this daemon already serves."""
    projects = []
    for index, ref in enumerate(project_refs or []):
        try:
            projects.append(project_for_user(user=user, project_ref=ref))
        except NotFound as error:
            raise Invalid(f"No project {ref!r} for this key.", field=f"projects[{index}]") from error
    if not project_refs:
        projects = list(projects_for_user(user=user).filter(daemons__name=daemon_name))
    by_ref = {project.name: project for project in projects} | {project.public_id: project for project in projects}
    for index, client in enumerate(middleware or []):
        if client["project"] not in by_ref:
            raise Invalid("Not one of this heartbeat's projects.", field=f"middleware[{index}].project")
    with transaction.atomic():
        daemons = {
            project.pk: daemon_touch(project=project, daemon_name=daemon_name, now=now, version=version)
            for project in projects
        }
        for client in middleware or []:
            MiddlewareClient.objects.update_or_create(
                daemon=daemons[by_ref[client["project"]].pk],
                client_name=client["client_name"],
                defaults={"last_seen_at": now},
            )
    return list(daemons.values())


def daemons_delete_expired(*, now: datetime | None = None) -> int:
    """Forget daemons long gone from the console (they vanished from it after an hour)."""
    now = now or timezone.now()
    deleted, _ = Daemon.objects.filter(last_heartbeat_at__lt=now - settings.DAEMON_DELETE_AFTER).delete()
    return deleted
