import hashlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.cache import count_in_window
from controlplane.errors import Invalid, NotFound
from daemons.models import Daemon, MiddlewareClient
from projects.models import Project, User
from projects.selectors import project_for_user, projects_for_user


def daemons_touch(
    *, project_id: int, names: Collection[str], now: datetime, version: str = "", traffic: dict[str, Any] | None = None
) -> None:
    """Record that these daemons of the project are alive (heartbeats and polls both count), with their version and
    `traffic` if given: one UPDATE for all of them, and for those never seen before one INSERT (and the UPDATE
    again, as a heartbeat and a poll may race to create the same daemon)."""
    fields: dict[str, object] = {"last_heartbeat_at": now}
    if version:
        fields["version"] = version
    if traffic is not None:
        fields["traffic"] = traffic
    names = set(names)
    if Daemon.objects.filter(project_id=project_id, name__in=names).update(**fields) == len(names):
        return
    new = names - set(Daemon.objects.filter(project_id=project_id, name__in=names).values_list("name", flat=True))
    Daemon.objects.bulk_create(
        [Daemon(project_id=project_id, name=name, first_seen_at=now, **fields) for name in new], ignore_conflicts=True
    )
    Daemon.objects.filter(project_id=project_id, name__in=new).update(**fields)


def daemon_poll_throttle(*, project: Project, daemon_name: str) -> float | None:
    """Seconds the daemon must wait before polling again, or None. A poll replies at once only when something
    changed, so more than DAEMON_POLLS_PER_MINUTE is a daemon polling in a loop: it gets 429 and writes nothing."""
    name = hashlib.blake2b(daemon_name.encode(), digest_size=12).hexdigest()
    polls, seconds_left = count_in_window(f"daemon-polls:{project.pk}:{name}", 60)
    return None if polls <= settings.DAEMON_POLLS_PER_MINUTE else seconds_left


def _middleware_client_seen(*, project: Project, daemon_name: str, client_name: str, now: datetime) -> None:
    seen = MiddlewareClient.objects.filter(daemon__project=project, daemon__name=daemon_name, client_name=client_name)
    if seen.update(last_seen_at=now):
        return
    daemon = Daemon.objects.get(project=project, name=daemon_name)
    MiddlewareClient.objects.get_or_create(daemon=daemon, client_name=client_name, defaults={"last_seen_at": now})


def daemon_heartbeat(
    *,
    user: User,
    daemon_name: str,
    now: datetime,
    version: str = "",
    project_refs: list[str] | None = None,
    middleware: list[dict[str, str]] | None = None,
    traffic: list[dict[str, Any]] | None = None,
) -> None:
    """A heartbeat for each named project, or for the projects this daemon already serves, with what became of each
    project's entries (`traffic` items, the latest kept per project)."""
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
    traffic_by_project: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(traffic or []):
        if item["project"] not in by_ref:
            raise Invalid("Not one of this heartbeat's projects.", field=f"traffic[{index}].project")
        counts = {key: value for key, value in item.items() if key != "project"}
        traffic_by_project[by_ref[item["project"]].pk] = {**counts, "since": counts["since"].isoformat()}
    with transaction.atomic():
        for project in projects:
            daemons_touch(
                project_id=project.pk,
                names=[daemon_name],
                now=now,
                version=version,
                traffic=traffic_by_project.get(project.pk),
            )
        for client in middleware or []:
            _middleware_client_seen(
                project=by_ref[client["project"]], daemon_name=daemon_name, client_name=client["client_name"], now=now
            )


def daemons_delete_expired(*, now: datetime | None = None) -> int:
    """Forget daemons long gone from the console (they vanished from it after an hour)."""
    now = now or timezone.now()
    deleted, _ = Daemon.objects.filter(last_heartbeat_at__lt=now - settings.DAEMON_DELETE_AFTER).delete()
    return deleted
