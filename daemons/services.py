import hashlib
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.errors import Invalid, NotFound
from daemons.models import Daemon, MiddlewareClient
from projects.models import Project, User
from projects.selectors import project_for_user, projects_for_user


def daemon_touch(*, project: Project, daemon_name: str, now: datetime, version: str = "") -> None:
    """Record that a daemon of the project is alive (heartbeats and polls both count): one conditional UPDATE,
    and an INSERT only the first time."""
    fields: dict[str, object] = {"last_heartbeat_at": now}
    if version:
        fields["version"] = version
    if Daemon.objects.filter(project=project, name=daemon_name).update(**fields):
        return
    try:
        with transaction.atomic():
            Daemon.objects.create(project=project, name=daemon_name, first_seen_at=now, **fields)
    except IntegrityError:  # its first heartbeat and first poll raced; the other one created it
        Daemon.objects.filter(project=project, name=daemon_name).update(**fields)


def daemon_poll_throttle(*, project: Project, daemon_name: str) -> float | None:
    """Seconds the daemon must wait before polling again, or None. A poll replies at once only when something
    changed, so more than DAEMON_POLLS_PER_MINUTE is a daemon polling in a loop: it gets 429 and writes nothing.
    Counted per minute in the cache (allowed while Redis is away: `controlplane.cache`)."""
    window = int(time.time() // 60)
    name = hashlib.blake2b(daemon_name.encode(), digest_size=12).hexdigest()
    key = f"daemon-polls:{project.pk}:{name}:{window}"
    try:
        cache.add(key, 0, timeout=60)
        polls = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        return None
    if polls <= settings.DAEMON_POLLS_PER_MINUTE:
        return None
    return 60 - time.time() % 60


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
) -> None:
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
        for project in projects:
            daemon_touch(project=project, daemon_name=daemon_name, now=now, version=version)
        for client in middleware or []:
            _middleware_client_seen(
                project=by_ref[client["project"]], daemon_name=daemon_name, client_name=client["client_name"], now=now
            )


def daemons_delete_expired(*, now: datetime | None = None) -> int:
    """Forget daemons long gone from the console (they vanished from it after an hour)."""
    now = now or timezone.now()
    deleted, _ = Daemon.objects.filter(last_heartbeat_at__lt=now - settings.DAEMON_DELETE_AFTER).delete()
    return deleted
