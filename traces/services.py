import gc
import logging
import pickle
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from apimodel.builder import STATE_VERSION, ModelBuilder, PathHints
from apimodel.har import HarError, har_entries, is_http_exchange
from apimodel.witness import InvalidEntry, witness_from_entry
from controlplane.errors import Conflict, Gone, Invalid
from controlplane.notify import project_changed
from projects.models import Project, User
from traces.models import ApiModel, Endpoint, Trace, TraceStatus, WitnessBatch, witnesses_unpack
from traces.names import random_trace_name
from traces.selectors import latest_model

logger = logging.getLogger(__name__)

# Words of the API's trace URLs (…/traces/har) that a trace name must not shadow.
RESERVED_TRACE_NAMES = frozenset({"har"})
DURATION_PRESETS_MINUTES = (15, 30, 60, 120, 240, 480, 720, 1440)
MAX_DURATION_MINUTES = 1440
HAR_BATCH_SIZE = 500
PROGRESS_EVERY = 2000
# Stored batches fetched per query while building (a few MB of witnesses at most).
BUILD_CHUNK = 100
# A build whose worker died is taken over after this long (tasks are acks_late and redelivered).
STALE_BUILD_AFTER = timedelta(minutes=15)
# Longer than any witness-insert transaction takes to commit.
INCREMENTAL_MARGIN = timedelta(seconds=10)


def _notify_after_commit(project_id: int) -> None:
    transaction.on_commit(lambda: project_changed(project_id))


def trace_start(
    *, project: Project, user: User | None, duration_minutes: int, name: str | None = None, now: datetime | None = None
) -> Trace:
    now = now or timezone.now()
    if not 1 <= duration_minutes <= MAX_DURATION_MINUTES:
        raise Invalid(f"Must be between 1 and {MAX_DURATION_MINUTES} minutes.", field="duration_minutes")
    ends_at = now + timedelta(minutes=duration_minutes)
    with transaction.atomic():
        trace = _trace_create(project=project, user=user, name=name, started_at=now, ends_at=ends_at)
        _notify_after_commit(project.pk)
    return trace


def _trace_create(
    *,
    project: Project,
    user: User | None,
    name: str | None,
    started_at: datetime,
    ends_at: datetime,
    source: str = Trace.Source.LIVE,
) -> Trace:
    if name in RESERVED_TRACE_NAMES:
        raise Invalid(f"{name!r} is reserved; choose another name.", field="name")
    if name:
        if Trace.objects.filter(project=project, name=name).exists():
            raise Conflict(f"A trace named {name!r} exists in this project.")
        candidates: Iterable[str] = [name]
    else:
        candidates = (random_trace_name() for _ in range(20))
    for candidate in candidates:
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


def trace_stop(*, trace: Trace, now: datetime | None = None) -> Trace:
    """Stop an active trace and queue its model build; stopping a closed trace changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        stopped = Trace.objects.filter(pk=trace.pk, stopped_at__isnull=True, ends_at__gt=now).update(
            stopped_at=now, final_build_queued_at=now
        )
        if stopped:
            model_build_enqueue(project=trace.project, trace=trace)
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
                model_build_enqueue(project=trace.project, trace=trace)
                closed += 1
    return closed


def _final_build_queued(trace: Trace) -> bool:
    latest = latest_model(trace=trace)
    return latest is not None and latest.status == ApiModel.BuildStatus.QUEUED


def traces_build_active(*, now: datetime | None = None) -> int:
    """Beat: fold the witnesses that arrived since the last build into active traces' models, so they grow live."""
    now = now or timezone.now()
    queued = 0
    active = Trace.objects.filter(
        source=Trace.Source.LIVE, started_at__lte=now, ends_at__gt=now, stopped_at__isnull=True
    ).select_related("project")
    for trace in active:
        latest = latest_model(trace=trace)
        if latest is not None and latest.status in (ApiModel.BuildStatus.QUEUED, ApiModel.BuildStatus.BUILDING):
            continue  # the next beat folds what arrives meanwhile
        fresh = WitnessBatch.objects.filter(trace=trace)
        if latest is not None:
            fresh = fresh.filter(received_at__gte=latest.folded_until or latest.created_at)
        if fresh.exists():
            model_build_enqueue(project=trace.project, trace=trace, incremental=True)
            queued += 1
    return queued


def witnesses_from_entries(entries: Any, *, field: str = "entries", http_only: bool = False) -> list[dict[str, Any]]:
    """Obfuscate HAR entries into witnesses; bad input is `Invalid` naming the entry's field.
    With `http_only`, entries that are not HTTP exchanges are skipped instead."""
    if not isinstance(entries, list):
        raise Invalid("Must be a list of HAR 1.2 entries.", field=field)
    witnesses = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise Invalid("Must be a HAR entry object.", field=f"{field}[{index}]")
        if http_only and not is_http_exchange(entry):
            continue
        try:
            witnesses.append(witness_from_entry(entry))
        except InvalidEntry as error:
            raise Invalid(str(error), field=f"{field}[{index}].{error.field}") from error
    return witnesses


def witnesses_ingest(
    *, trace: Trace, daemon_name: str, batch_id: str, entries: list[Any], now: datetime | None = None
) -> tuple[int, bool]:
    """Store a batch once; returns (accepted count, whether it was a duplicate)."""
    now = now or timezone.now()
    if not trace.accepts_witnesses(now):
        raise Gone("This trace is closed and no longer accepts witnesses.")
    witnesses = witnesses_from_entries(entries)
    try:
        with transaction.atomic():
            WitnessBatch.of(witnesses, trace=trace, batch_id=batch_id, daemon_name=daemon_name).save()
            Trace.objects.filter(pk=trace.pk).update(witness_count=F("witness_count") + len(witnesses))
            if trace.get_status(now) != TraceStatus.ACTIVE and not _final_build_queued(trace):
                # In-flight witnesses of a closed trace: its final model must include them (a build
                # already running may have read the batches before this one, a queued one will not have).
                model_build_enqueue(project=trace.project, trace=trace)
    except IntegrityError:
        return 0, True
    return len(witnesses), False


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _har_entries(content: bytes) -> list[Any]:
    try:
        return har_entries(content)
    except HarError as error:
        message = str(error)
        raise Invalid(message[0].upper() + message[1:] + ".", field="file") from error


def har_upload(*, project: Project, user: User | None, content: bytes, now: datetime | None = None) -> Trace:
    """A HAR file becomes a finished trace whose model build is queued. A browser's export also records
    data: URLs and requests that got no response; those are skipped."""
    now = now or timezone.now()
    witnesses = witnesses_from_entries(_har_entries(content), field="file.log.entries", http_only=True)
    if not witnesses:
        raise Invalid("The HAR file has no HTTP requests with responses.", field="file")
    with transaction.atomic():
        trace = _trace_create(
            project=project, user=user, name=None, started_at=now, ends_at=now, source=Trace.Source.HAR
        )
        WitnessBatch.objects.bulk_create(
            WitnessBatch.of(chunk, trace=trace, batch_id=f"har-{index}")
            for index, chunk in enumerate(_chunks(witnesses, HAR_BATCH_SIZE))
        )
        trace.witness_count = len(witnesses)
        trace.final_build_queued_at = now
        trace.save(update_fields=["witness_count", "final_build_queued_at"])
        model_build_enqueue(project=project, trace=trace)
    return trace


def model_build_enqueue(*, project: Project, trace: Trace | None = None, incremental: bool = False) -> ApiModel:
    """Queue a new model version from stored witnesses: of the trace, or (no trace) the merged project model."""
    from traces.tasks import model_build  # the task module imports these services

    with transaction.atomic():
        # Lock the project row so two enqueues get distinct versions.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        latest = ApiModel.objects.filter(project=project, trace=trace).aggregate(latest=Max("version"))["latest"]
        api_model = ApiModel.objects.create(
            project=project, trace=trace, version=(latest or 0) + 1, incremental=incremental
        )
        transaction.on_commit(lambda: model_build.delay(api_model.pk))
    return api_model


def project_model_enqueue(*, project: Project) -> ApiModel:
    """Queue a build of the project's merged model, unless one is already waiting to start."""
    waiting = ApiModel.objects.filter(project=project, trace=None, status=ApiModel.BuildStatus.QUEUED).first()
    return waiting or model_build_enqueue(project=project)


def models_rebuild_all(*, project: Project) -> int:
    """Rebuild every trace that still has stored witnesses with today's path hints (the merged model follows)."""
    traces = list(Trace.objects.filter(project=project, witness_batches__isnull=False).distinct())
    for trace in traces:
        model_build_enqueue(project=project, trace=trace)
    return len(traces)


def model_rebuild(*, trace: Trace) -> ApiModel:
    """Rebuild a trace's model from its stored witnesses (new inference or new path hints, same traffic)."""
    if not WitnessBatch.objects.filter(trace=trace).exists():
        raise Conflict("This trace has no stored witnesses left to rebuild from (past retention).")
    return model_build_enqueue(project=trace.project, trace=trace)


def path_hints_of(project: Project) -> PathHints:
    return PathHints(**project.path_hints)


def _resumable_build(api_model: ApiModel) -> ApiModel | None:
    """The previous live build of the same model whose builder this incremental build may continue."""
    previous = (
        ApiModel.objects.filter(
            project_id=api_model.project_id,
            trace_id=api_model.trace_id,
            version__lt=api_model.version,
            status=ApiModel.BuildStatus.READY,
            incremental=True,
            builder_state__isnull=False,
        )
        .order_by("-version")
        .first()
    )
    if previous is None or previous.path_hints != api_model.project.path_hints:
        return None
    return previous


def _builder_for(api_model: ApiModel) -> tuple[ModelBuilder, datetime | None]:
    """A fresh builder, or for an incremental build the resumed one with the time it has folded witnesses until."""
    previous = _resumable_build(api_model) if api_model.incremental else None
    if previous is not None:
        version, builder = pickle.loads(previous.builder_state)  # noqa: S301 - written by this server only
        if version == STATE_VERSION:
            return builder, previous.folded_until
    return ModelBuilder(path_hints_of(api_model.project)), None


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: decoded witnesses hold no cycles (reference counting frees
    them), and rescanning the many objects a build decodes would cost it a quarter of its time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def model_build(*, model_id: int, now: datetime | None = None) -> None:
    """Build a queued model from stored witnesses; idempotent, and only one worker claims it."""
    now = now or timezone.now()
    claimable = Q(status=ApiModel.BuildStatus.QUEUED) | Q(
        status=ApiModel.BuildStatus.BUILDING, started_at__lt=now - STALE_BUILD_AFTER
    )
    if not ApiModel.objects.filter(claimable, pk=model_id).update(
        status=ApiModel.BuildStatus.BUILDING, started_at=now, processed=0
    ):
        return
    api_model = ApiModel.objects.select_related("project").get(pk=model_id)
    project = api_model.project
    if api_model.trace_id is None:
        batches = WitnessBatch.objects.filter(trace__project=project)
    else:
        batches = WitnessBatch.objects.filter(trace_id=api_model.trace_id)
    try:
        builder, folded_since = _builder_for(api_model)
        folded_until = None
        if api_model.incremental:
            # Batches received before the cutoff are committed by now, so none is skipped or folded twice.
            folded_until = now - INCREMENTAL_MARGIN
            batches = batches.filter(received_at__lt=folded_until)
            if folded_since is not None:
                batches = batches.filter(received_at__gte=folded_since)
        total = batches.aggregate(total=Sum("witness_count"))["total"] or 0
        ApiModel.objects.filter(pk=model_id).update(total=total, path_hints=project.path_hints)
        processed = reported = 0
        payloads = batches.order_by("pk").values_list("payload", flat=True).iterator(chunk_size=BUILD_CHUNK)
        with _cyclic_gc_paused():
            for payload in payloads:
                witnesses = witnesses_unpack(payload)
                for witness in witnesses:
                    builder.add(witness)
                processed += len(witnesses)
                if processed - reported >= PROGRESS_EVERY:
                    ApiModel.objects.filter(pk=model_id).update(processed=processed)
                    reported = processed
            document = builder.result()
        state = pickle.dumps((STATE_VERSION, builder)) if api_model.incremental else None
        with transaction.atomic():
            Endpoint.objects.filter(api_model_id=model_id).delete()
            Endpoint.objects.bulk_create(_endpoint_row(model_id, endpoint) for endpoint in document["endpoints"])
            ApiModel.objects.filter(pk=model_id).update(
                status=ApiModel.BuildStatus.READY,
                processed=processed,
                document=document,
                builder_state=state,
                folded_until=folded_until,
                finished_at=timezone.now(),
                error="",
            )
            older = ApiModel.objects.filter(
                project_id=project.pk, trace_id=api_model.trace_id, version__lt=api_model.version
            )
            # Live builds are previews, one every 30 s while a trace runs: keep only the newest.
            older.filter(incremental=True, status=ApiModel.BuildStatus.READY).delete()
            # Only the newest live build is ever resumed.
            older.exclude(builder_state=None).update(builder_state=None)
            # The merged model follows finished traces, not every live refresh (it starts over each time).
            if api_model.trace_id is not None and not api_model.incremental:
                project_model_enqueue(project=project)
    except Exception as error:
        logger.exception("model build %s failed", model_id)
        ApiModel.objects.filter(pk=model_id).update(
            status=ApiModel.BuildStatus.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )


def _delimited(items: list[str]) -> str:
    return "," + ",".join(items) + "," if items else ""


def _endpoint_row(model_id: int, endpoint: dict[str, Any]) -> Endpoint:
    latency = endpoint.get("latency_ms") or {}
    return Endpoint(
        api_model_id=model_id,
        method=endpoint["method"],
        host=endpoint["host"],
        path=endpoint["path"],
        count=endpoint["count"],
        auth=_delimited(endpoint.get("auth", [])),
        status_codes=_delimited(sorted(endpoint.get("responses", {}))),
        latency_p50_ms=latency.get("p50"),
        latency_p90_ms=latency.get("p90"),
        latency_p99_ms=latency.get("p99"),
        first_seen=endpoint.get("first_seen"),
        last_seen=endpoint.get("last_seen"),
        detail=endpoint,
    )


def witnesses_purge(*, now: datetime | None = None) -> int:
    """Delete stored witnesses past retention; the models built from them stay."""
    now = now or timezone.now()
    deleted, _ = WitnessBatch.objects.filter(received_at__lt=now - settings.WITNESS_RETENTION).delete()
    return deleted
