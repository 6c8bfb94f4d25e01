"""What beat notices and raises as alerts: daemon status transitions, monitors over endpoints of new model
versions, and a project's finished model changing. Each remembers only what was last notified."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from alerts.models import DaemonWatch, Event, ModelScan, Monitor, ProjectModelWatch, ScannedModel
from alerts.services import alert_raise
from apimodel.diff import change_list, diff_is_empty, diff_models, endpoint_key
from apimodels.models import ModelEndpoint, ModelVersion
from apimodels.selectors import model_document
from daemons.models import EXPIRES_AFTER, HEALTHY_WITHIN, Daemon, DaemonStatus
from projects.models import Project

READY = ModelVersion.BuildStatus.READY
# A build pending longer than this (no worker, or it died) stops holding back the scan of newer versions.
STUCK_BUILD = timedelta(days=1)
# Changes listed per part of a model.changed alert (a payload, not a report; the diff page has them all).
MAX_LISTED = 200

DAEMON_EVENTS = {
    DaemonStatus.HEALTHY: Event.DAEMON_HEALTHY,
    DaemonStatus.UNHEALTHY: Event.DAEMON_UNHEALTHY,
    DaemonStatus.EXPIRED: Event.DAEMON_EXPIRED,
}


# Daemons


def _transition_at(daemon: Daemon, status: DaemonStatus) -> datetime:
    """When the daemon entered `status`, derived like the status itself from its last heartbeat."""
    if status == DaemonStatus.UNHEALTHY:
        return daemon.last_heartbeat_at + HEALTHY_WITHIN
    if status == DaemonStatus.EXPIRED:
        return daemon.last_heartbeat_at + EXPIRES_AFTER
    return daemon.last_heartbeat_at


def _daemon_summary(daemon: Daemon, status: DaemonStatus) -> str:
    where = f"Daemon {daemon.name} of {daemon.project.name}"
    if status == DaemonStatus.HEALTHY:
        return f"{where} is healthy again: it is heartbeating."
    if status == DaemonStatus.UNHEALTHY:
        return f"{where} is unhealthy: no heartbeat for over a minute."
    return f"{where} expired: no heartbeat for an hour."


def _daemon_transition(watch: DaemonWatch, now: datetime) -> bool:
    daemon = watch.daemon
    status = daemon.get_status(now)
    with transaction.atomic():
        # Conditional update: of two overlapping beats, one notifies.
        if status == watch.status or not DaemonWatch.objects.filter(pk=watch.pk, status=watch.status).update(
            status=status
        ):
            return False
        occurred_at = _transition_at(daemon, status)
        alert_raise(
            project=daemon.project,
            event=DAEMON_EVENTS[status],
            key=f"{DAEMON_EVENTS[status]}:{daemon.public_id}:{occurred_at.isoformat()}",
            occurred_at=occurred_at,
            summary=_daemon_summary(daemon, status),
            path=reverse("daemon-list", kwargs={"project": daemon.project.public_id}),
            details={
                "daemon": {"id": daemon.public_id, "name": daemon.name, "version": daemon.version},
                "status": status,
                "previous_status": watch.status,
                "last_heartbeat_at": daemon.last_heartbeat_at.isoformat().replace("+00:00", "Z"),
            },
        )
    return True


def daemons_watch(*, now: datetime | None = None) -> int:
    """Beat: one alert per status transition of a daemon since its last notified status; a daemon seen for the
    first time is only noted. Returns the transitions notified."""
    now = now or timezone.now()
    new = Daemon.objects.exclude(pk__in=DaemonWatch.objects.values("daemon_id")).only("pk", "last_heartbeat_at")
    DaemonWatch.objects.bulk_create(
        [DaemonWatch(daemon=daemon, status=daemon.get_status(now)) for daemon in new], ignore_conflicts=True
    )
    healthy_after, expired_by = now - HEALTHY_WITHIN, now - EXPIRES_AFTER
    heartbeat = "daemon__last_heartbeat_at"
    changed = DaemonWatch.objects.filter(
        Q(status=DaemonStatus.HEALTHY, **{f"{heartbeat}__lte": healthy_after})
        | Q(status=DaemonStatus.UNHEALTHY, **{f"{heartbeat}__gt": healthy_after})
        | Q(status=DaemonStatus.UNHEALTHY, **{f"{heartbeat}__lte": expired_by})
        | Q(status=DaemonStatus.EXPIRED, **{f"{heartbeat}__gt": expired_by})
    ).select_related("daemon__project")
    return sum(_daemon_transition(watch, now) for watch in changed)


# Monitors


def _breach(monitor: Monitor, row: ModelEndpoint) -> tuple[str, dict[str, Any]] | None:
    """The monitor's finding on one endpoint (summary, details), or None when it holds."""
    where, errors = f"{row.method} {row.path}", row.error_count
    if monitor.kind == Monitor.Kind.ERRORS:
        rate = 100 * errors / row.count
        if rate <= monitor.threshold:
            return None
        summary = (
            f"{where} answered {rate:.1f}% of {row.count} requests with a server error (over {monitor.threshold:g}%)."
        )
        return summary, {"requests": row.count, "server_errors": errors, "error_rate_percent": round(rate, 2)}
    p99 = row.latency_p99_ms
    if p99 is None or p99 <= monitor.threshold:
        return None
    summary = f"{where} has a p99 latency of {p99:.0f} ms over {row.count} requests (over {monitor.threshold:g} ms)."
    return summary, {"requests": row.count, "p99_ms": p99}


def monitors_check(*, version: ModelVersion, monitors: list[Monitor]) -> int:
    """Check a trace's model version (live or final) against the project's monitors: an alert per monitor,
    trace and endpoint the first time it breaches (live previews every 30 s would otherwise repeat it)."""
    trace = version.trace
    assert trace is not None
    endpoints = version.endpoints.filter(count__gte=min(monitor.min_requests for monitor in monitors))
    rows = list(endpoints.defer("detail"))
    raised = 0
    for monitor in monitors:
        wanted = endpoint_key(*monitor.endpoint.split(" ", 1)) if monitor.endpoint else None
        for row in rows:
            if row.count < monitor.min_requests or (wanted and endpoint_key(row.method, row.path) != wanted):
                continue
            if (found := _breach(monitor, row)) is None:
                continue
            summary, measured = found
            identity = hashlib.sha256(f"{row.method} {row.host}{row.path}".encode()).hexdigest()[:24]
            alert = alert_raise(
                project=version.project,
                event=monitor.event,
                key=f"{monitor.event}:{monitor.public_id}:{trace.public_id}:{identity}",
                occurred_at=version.finished_at or timezone.now(),
                summary=f"{version.project.name}: {summary}",
                path=reverse("trace-detail", kwargs={"project": version.project.public_id, "trace": trace.name}),
                details={
                    "monitor": {"id": monitor.public_id, "condition": monitor.condition},
                    "endpoint": {"id": row.public_id, "method": row.method, "host": row.host, "path": row.path},
                    "trace": {"id": trace.public_id, "name": trace.name},
                    "model": version.public_id,
                    "live": version.incremental,
                    **measured,
                },
            )
            raised += alert is not None
    return raised


# The project's model


def _final_models(project: Project) -> tuple[ModelVersion | None, ModelVersion | None]:
    """The newest ready final model of the project's newest trace that has one, and of the trace before it."""
    versions = (
        ModelVersion.objects.filter(project=project, trace__isnull=False, incremental=False, status=READY)
        .select_related("trace")
        .defer("builder_state")
        .order_by("-trace__started_at", "-trace_id", "-version")
    )
    head = None
    for version in versions.iterator(chunk_size=20):
        if head is None:
            head = version
        elif version.trace_id != head.trace_id:
            return head, version
    return head, None


def _model_ref(version: ModelVersion) -> dict[str, Any]:
    assert version.trace is not None
    return {"model": version.public_id, "trace": {"id": version.trace.public_id, "name": version.trace.name}}


def _change_summary(project: Project, changes: dict[str, Any]) -> str:
    counts = [
        f"{len(changes[part])} endpoint{'s' if len(changes[part]) != 1 else ''} {part}"
        for part in ("added", "removed")
        if changes[part]
    ]
    if changes["changed"]:
        counts.append(f"{len(changes['changed'])} change{'s' if len(changes['changed']) != 1 else ''} in endpoints")
    if not changes["breaking"]:
        return f"The API of {project.name} changed compatibly: {', '.join(counts)}."
    first, *others = [c for c in changes["removed"] + changes["changed"] if c["breaking"]]
    more = f", and {len(others)} more breaking change{'s' if len(others) != 1 else ''}" if others else ""
    field = f" ({first['field']})" if "field" in first else ""
    return (
        f"The API of {project.name} changed in a way that breaks clients: {first['method']} {first['path']}"
        f"{field}: {first['reason']}{more}; {', '.join(counts)}."
    )


def model_change_check(*, project: Project) -> bool:
    """Compare the project's newest finished model with the one before it and alert on what changed, unless it
    is what was last notified (a rebuild finds the same changes). Waits while final builds are pending, so that
    models rebuilt with new path hints are compared with each other, not with older ones."""
    pending = ModelVersion.objects.filter(
        project=project, trace__isnull=False, incremental=False, status__in=ModelVersion.PENDING
    )
    if pending.exists():
        return False
    head, base = _final_models(project)
    if head is None or base is None:
        return False
    diff = diff_models(model_document(base), model_document(head))
    if diff_is_empty(diff):
        return False
    removed, changed = diff["endpoints_removed"], change_list(diff)
    changes = {
        "breaking": any(change["breaking"] for change in removed + changed),
        "added": diff["endpoints_added"][:MAX_LISTED],
        "removed": removed[:MAX_LISTED],
        "changed": changed[:MAX_LISTED],
        "truncated": max(len(diff["endpoints_added"]), len(removed), len(changed)) > MAX_LISTED,
    }
    digest = hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()
    with transaction.atomic():
        watch, _ = ProjectModelWatch.objects.select_for_update().get_or_create(project=project)
        if watch.changes_digest == digest:
            return False
        watch.changes_digest = digest
        watch.save(update_fields=["changes_digest"])
        alert = alert_raise(
            project=project,
            event=Event.MODEL_CHANGED,
            key=f"{Event.MODEL_CHANGED}:{base.public_id}:{head.public_id}",
            occurred_at=head.finished_at or timezone.now(),
            summary=_change_summary(project, changes),
            path=reverse("model-diff", kwargs={"project": project.public_id})
            + f"?base={base.public_id}&head={head.public_id}",
            details={**changes, "base": _model_ref(base), "head": _model_ref(head)},
        )
    return alert is not None


# The scan over new model versions


def _scan_mark() -> ModelScan:
    """The scan's one row; its migration starts it at the newest version then, so no past model is alerted on."""
    scan, _ = ModelScan.objects.get_or_create(pk=1, defaults={"settled_through": 0})
    return scan


def _settled_through(versions: list[ModelVersion], mark: int, now: datetime) -> int:
    """The highest pk below which no version can still become ready (stuck builds aside)."""
    waiting = [v.pk for v in versions if v.is_pending and v.created_at > now - STUCK_BUILD]
    if waiting:
        return min(waiting) - 1
    return max([mark, *(v.pk for v in versions)])


def models_watch(*, now: datetime | None = None) -> int:
    """Beat: check every trace model version that became ready since the last scan against its project's
    monitors, and each project with a new final model for a model change. Returns the alerts raised."""
    now = now or timezone.now()
    scan = _scan_mark()
    versions = list(
        ModelVersion.objects.filter(pk__gt=scan.settled_through)
        .only("pk", "status", "created_at", "project_id", "trace_id", "incremental")
        .order_by("pk")
    )
    checked = set(ScannedModel.objects.filter(pk__gt=scan.settled_through).values_list("pk", flat=True))
    fresh = [v for v in versions if v.status == READY and v.trace_id is not None and v.pk not in checked]
    raised = 0
    monitors: dict[int, list[Monitor]] = {}
    for monitor in Monitor.objects.filter(project_id__in={v.project_id for v in fresh}):
        monitors.setdefault(monitor.project_id, []).append(monitor)
    monitored = ModelVersion.objects.filter(pk__in=[v.pk for v in fresh if v.project_id in monitors])
    for version in monitored.select_related("project", "trace").defer("builder_state"):
        raised += monitors_check(version=version, monitors=monitors[version.project_id])
    for project in Project.objects.filter(pk__in={v.project_id for v in fresh if not v.incremental}):
        raised += model_change_check(project=project)
    ScannedModel.objects.bulk_create([ScannedModel(pk=v.pk) for v in fresh], ignore_conflicts=True)
    settled = _settled_through(versions, scan.settled_through, now)
    ScannedModel.objects.filter(pk__lte=settled).delete()
    # Forward only: a slower beat that overlapped this one must not move the mark back.
    ModelScan.objects.filter(pk=scan.pk, settled_through__lt=settled).update(settled_through=settled)
    return raised
