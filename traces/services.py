import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apimodel.har import is_http_exchange
from apimodel.witness import InvalidEntry, witness_from_entry
from apimodel.witness_form import check_witness
from controlplane.errors import Conflict, Gone, Invalid
from controlplane.notify import project_changed
from projects.models import Project, User
from traces.builds import model_builds
from traces.models import Trace, TraceStatus, WitnessBatch
from traces.names import random_trace_name

# Words of the API's trace URLs (…/traces/har) that a trace name must not shadow.
RESERVED_TRACE_NAMES = frozenset({"har"})
TRACE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$"
DURATION_PRESETS_MINUTES = (15, 30, 60, 120, 240, 480, 720, 1440)
MAX_DURATION_MINUTES = 1440


def _notify_after_commit(project_id: int) -> None:
    transaction.on_commit(lambda: project_changed(project_id))


def trace_start(
    *, project: Project, user: User | None, duration_minutes: int, name: str | None = None, now: datetime | None = None
) -> Trace:
    now = now or timezone.now()
    if not 1 <= duration_minutes <= MAX_DURATION_MINUTES:
        raise Invalid(f"Must be between 1 and {MAX_DURATION_MINUTES} minutes.", field="duration_minutes")
    ends_at = now + timedelta(minutes=duration_minutes)
    if name:
        _trace_name_free(project=project, name=name)
    names: Iterable[str] = [name] if name else (random_trace_name() for _ in range(20))
    with transaction.atomic():
        trace = trace_create(project=project, user=user, names=names, started_at=now, ends_at=ends_at)
        _notify_after_commit(project.pk)
    return trace


def _trace_name_free(*, project: Project, name: str, exclude: Trace | None = None) -> None:
    """Raise unless `name` may name a new (or this renamed) trace of the project."""
    if name in RESERVED_TRACE_NAMES:
        raise Invalid(f"{name!r} is reserved; choose another name.", field="name")
    taken = Trace.objects.filter(project=project, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(f"A trace named {name!r} exists in this project.")


def trace_create(
    *,
    project: Project,
    user: User | None,
    names: Iterable[str],
    started_at: datetime,
    ends_at: datetime,
    source: str = Trace.Source.LIVE,
) -> Trace:
    """A new trace under the first of `names` that is free."""
    for candidate in names:
        if candidate in RESERVED_TRACE_NAMES:
            continue
        try:
            with transaction.atomic():
                return Trace.objects.create(
                    project=project,
                    created_by=user,
                    name=candidate,
                    source=source,
                    started_at=started_at,
                    ends_at=ends_at,
                )
        except IntegrityError:
            continue
    raise Conflict("Could not find a free trace name; try again or give one.")


def trace_rename(*, trace: Trace, name: str) -> Trace:
    """Give the trace another name, unique in its project (its id stays, so daemons and links by id go on)."""
    if not re.fullmatch(TRACE_NAME_PATTERN, name):
        raise Invalid("Use 2 to 100 lowercase letters, digits and dashes.", field="name")
    _trace_name_free(project=trace.project, name=name, exclude=trace)
    try:
        with transaction.atomic():
            Trace.objects.filter(pk=trace.pk).update(name=name)
    except IntegrityError as error:  # renamed concurrently to the same name
        raise Conflict(f"A trace named {name!r} exists in this project.") from error
    trace.name = name
    return trace


def trace_delete(*, trace: Trace, now: datetime | None = None) -> None:
    """Delete the trace with its stored witnesses and its models; the project's merged model is rebuilt
    without its traffic, and daemons still capturing it stop."""
    now = now or timezone.now()
    with transaction.atomic():
        was_active = trace.get_status(now) == TraceStatus.ACTIVE
        trace.delete()
        model_builds().queue_project_build(trace.project)
        if was_active:
            _notify_after_commit(trace.project_id)


def trace_stop(*, trace: Trace, now: datetime | None = None) -> Trace:
    """Stop an active trace and queue its final model build; stopping a closed trace changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        stopped = Trace.objects.filter(pk=trace.pk, stopped_at__isnull=True, ends_at__gt=now).update(
            stopped_at=now, final_build_queued_at=now
        )
        if stopped:
            model_builds().queue_final_build(trace)
            _notify_after_commit(trace.project_id)
    trace.refresh_from_db()
    return trace


def traces_close_ended(*, now: datetime | None = None) -> int:
    """Queue the final build of traces that reached their end time (beat)."""
    now = now or timezone.now()
    closed = 0
    ended = Trace.objects.filter(ends_at__lte=now, final_build_queued_at__isnull=True, source=Trace.Source.LIVE)
    for trace in ended.select_related("project"):
        with transaction.atomic():
            # Conditional update: two beats never queue the same build.
            if Trace.objects.filter(pk=trace.pk, final_build_queued_at__isnull=True).update(final_build_queued_at=now):
                model_builds().queue_final_build(trace)
                closed += 1
    return closed


def witnesses_from_entries(
    entries: Any, *, field: str = "entries", http_only: bool = False, clamped: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """Obfuscate HAR entries into witnesses; bad input is `Invalid` naming the entry's field, and what is cut to
    fit is counted in `clamped`. With `http_only`, entries that are not HTTP exchanges are skipped instead."""
    if not isinstance(entries, list):
        raise Invalid("Must be a list of HAR 1.2 entries.", field=field)
    witnesses = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise Invalid("Must be a HAR entry object.", field=f"{field}[{index}]")
        if http_only and not is_http_exchange(entry):
            continue
        try:
            witnesses.append(witness_from_entry(entry, clamped))
        except InvalidEntry as error:
            raise Invalid(str(error), field=f"{field}[{index}].{error.field}") from error
    return witnesses


def witnesses_checked(witnesses: list[Any], *, field: str = "witnesses") -> list[dict[str, Any]]:
    """Witnesses a daemon made, as they are if each is one (`apimodel.witness_form.check_witness`); else
    `Invalid` naming the witness's field (`witnesses[3].request.body`)."""
    for index, witness in enumerate(witnesses):
        try:
            check_witness(witness)
        except InvalidEntry as error:
            name = f"{field}[{index}].{error.field}" if error.field else f"{field}[{index}]"
            raise Invalid(error.message, field=name) from error
    return witnesses


def witnesses_ingest(
    *,
    trace: Trace,
    daemon_name: str,
    batch_id: str,
    entries: list[Any] | None = None,
    witnesses: list[Any] | None = None,
    dropped: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> tuple[int, bool]:
    """Store a batch once: HAR `entries`, made into witnesses here, or `witnesses` a daemon made, checked here,
    with the trace's entries the daemon reports it `dropped` since its previous batch (counted once, like the batch).
    Returns (accepted count, whether it was a duplicate)."""
    now = now or timezone.now()
    if not trace.accepts_witnesses(now):
        raise Gone("This trace is closed and no longer accepts witnesses.")
    clamped: Counter[str] = Counter()
    if witnesses is not None:
        witnesses = witnesses_checked(witnesses)
    else:
        witnesses = witnesses_from_entries(entries, clamped=clamped)
    try:
        with transaction.atomic():
            WitnessBatch.of(witnesses, trace=trace, batch_id=batch_id, daemon_name=daemon_name).save()
            Trace.objects.filter(pk=trace.pk).update(witness_count=F("witness_count") + len(witnesses))
            if clamped or dropped:
                _count_losses(trace, clamped=clamped, dropped=Counter(dropped))
            if trace.get_status(now) != TraceStatus.ACTIVE:
                # In-flight witnesses of a closed trace: its final model must include them (a build
                # already running may have read the batches before this one, a queued one will not have).
                model_builds().queue_final_build(trace)
    except IntegrityError:
        return 0, True
    return len(witnesses), False


def _count_losses(trace: Trace, *, clamped: Counter[str], dropped: Counter[str]) -> None:
    """Add to the trace's counts of entries cut to fit and of entries dropped; the caller's update holds the trace's
    row lock."""
    stored_clamped, stored_dropped = Trace.objects.values_list("clamped", "dropped").get(pk=trace.pk)
    Trace.objects.filter(pk=trace.pk).update(
        clamped=dict(sorted((Counter(stored_clamped) + clamped).items())),
        dropped=dict(sorted((Counter(stored_dropped) + dropped).items())),
    )


def witnesses_purge(*, now: datetime | None = None) -> int:
    """Delete stored witnesses past retention; the models built from them stay."""
    now = now or timezone.now()
    deleted, _ = WitnessBatch.objects.filter(received_at__lt=now - settings.WITNESS_RETENTION).delete()
    return deleted
