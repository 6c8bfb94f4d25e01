import dataclasses
import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from apimodel.builder import ModelBuilder
from apimodel.model_types import ApiModel
from apimodel.state import StateFormatError, dump_builder, load_builder
from apimodels.models import ModelEndpoint, ModelVersion, ProjectPathHints
from apimodels.selectors import latest_build, latest_builds, path_hints_of
from controlplane.errors import Conflict, Invalid
from projects.models import Project
from traces.builds import Build
from traces.models import Trace, WitnessBatch, witnesses_unpack

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 2000
# Stored batches fetched per query while building (a few MB of witnesses at most).
BUILD_CHUNK = 100
# A build whose worker died is taken over after this long (tasks are acks_late and redelivered).
STALE_BUILD_AFTER = timedelta(minutes=15)
# Longer than any witness-insert transaction takes to commit.
INCREMENTAL_MARGIN = timedelta(seconds=10)
MAX_PATH_HINTS = 200


def model_build_enqueue(*, project: Project, trace: Trace | None = None, incremental: bool = False) -> ModelVersion:
    """Queue a new model version from stored witnesses: of the trace, or (no trace) the merged project model."""
    from apimodels.tasks import model_build  # the task module imports these services

    with transaction.atomic():
        # Lock the project row so two enqueues get distinct versions.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        latest = ModelVersion.objects.filter(project=project, trace=trace).aggregate(latest=Max("version"))["latest"]
        version = ModelVersion.objects.create(
            project=project, trace=trace, version=(latest or 0) + 1, incremental=incremental
        )
        transaction.on_commit(lambda: model_build.delay(version.pk))
    return version


def trace_model_final_build(*, trace: Trace) -> ModelVersion:
    """Queue a full build of the trace's model, unless one is queued already (it will read everything stored)."""
    latest = latest_build(trace=trace)
    if latest is not None and latest.status == ModelVersion.BuildStatus.QUEUED and not latest.incremental:
        return latest
    return model_build_enqueue(project=trace.project, trace=trace)


class TraceModelBuilds:
    """What traces ask of model builds (traces.builds.ModelBuilds), registered in ApimodelsConfig.ready."""

    def queue_final_build(self, trace: Trace) -> None:
        trace_model_final_build(trace=trace)

    def latest_builds(self, traces: Sequence[Trace]) -> dict[int, Build]:
        return dict(latest_builds(traces=traces))


def project_model_enqueue(*, project: Project) -> ModelVersion:
    """Queue a build of the project's merged model, unless one is already waiting to start."""
    waiting = ModelVersion.objects.filter(project=project, trace=None, status=ModelVersion.BuildStatus.QUEUED).first()
    return waiting or model_build_enqueue(project=project)


def models_rebuild_all(*, project: Project) -> int:
    """Rebuild every trace that still has stored witnesses with today's path hints (the merged model follows)."""
    traces = list(Trace.objects.filter(project=project, witness_batches__isnull=False).distinct())
    for trace in traces:
        model_build_enqueue(project=project, trace=trace)
    return len(traces)


def model_rebuild(*, trace: Trace) -> ModelVersion:
    """Rebuild a trace's model from its stored witnesses (new inference or new path hints, same traffic)."""
    if not WitnessBatch.objects.filter(trace=trace).exists():
        raise Conflict("This trace has no stored witnesses left to rebuild from (past retention).")
    return model_build_enqueue(project=trace.project, trace=trace)


def models_build_live(*, now: datetime | None = None) -> int:
    """Beat: fold the witnesses that arrived since the last build into active traces' models, so they grow live."""
    now = now or timezone.now()
    queued = 0
    active = Trace.objects.filter(
        source=Trace.Source.LIVE, started_at__lte=now, ends_at__gt=now, stopped_at__isnull=True
    ).select_related("project")
    builds = latest_builds(traces=list(active))
    for trace in active:
        latest = builds.get(trace.pk)
        if latest is not None and latest.is_pending:
            continue  # the next beat folds what arrives meanwhile
        fresh = WitnessBatch.objects.filter(trace=trace)
        if latest is not None:
            fresh = fresh.filter(received_at__gte=latest.folded_until or latest.created_at)
        if fresh.exists():
            model_build_enqueue(project=trace.project, trace=trace, incremental=True)
            queued += 1
    return queued


def project_path_hints_update(
    *, project: Project, force: list[str], static: list[str], hidden: list[str], show_default_hidden: bool
) -> ProjectPathHints:
    """Save the project's path hints (templates like `/files/{path}`); they apply to the next build or rebuild."""
    lists = {"force": force, "static": static, "hidden": hidden}
    for field, templates in lists.items():
        if len(templates) > MAX_PATH_HINTS:
            raise Invalid(f"At most {MAX_PATH_HINTS} entries.", field=field)
        for index, template in enumerate(templates):
            if not template.startswith("/") or "//" in template or len(template) > 500:
                raise Invalid("A path like /users/me or /files/{path}, starting with /.", field=f"{field}[{index}]")
    hints, _ = ProjectPathHints.objects.update_or_create(
        project=project, defaults={**lists, "show_default_hidden": show_default_hidden}
    )
    return hints


def _resumable_build(version: ModelVersion, hints: dict[str, Any]) -> ModelVersion | None:
    """The previous live build of the same model whose builder this incremental build may continue."""
    previous = (
        ModelVersion.objects.filter(
            project_id=version.project_id,
            trace=version.trace_id,
            version__lt=version.version,
            status=ModelVersion.BuildStatus.READY,
            incremental=True,
            builder_state__isnull=False,
        )
        .order_by("-version")
        .first()
    )
    if previous is None or previous.path_hints != hints:
        return None
    return previous


def _builder_for(version: ModelVersion, hints: dict[str, Any]) -> tuple[ModelBuilder, datetime | None]:
    """A fresh builder, or for an incremental build the resumed one with the time it has folded witnesses until."""
    previous = _resumable_build(version, hints) if version.incremental else None
    if previous is not None and previous.builder_state is not None:
        try:
            return load_builder(bytes(previous.builder_state)), previous.folded_until
        except StateFormatError:
            pass  # written by another version of the builder: start over from the stored witnesses
    return ModelBuilder(path_hints_of(version.project)), None


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


def _claim(model_id: int, now: datetime) -> bool:
    """Take a queued build, or one whose worker died; a conditional update, so only one worker gets it."""
    claimable = Q(status=ModelVersion.BuildStatus.QUEUED) | Q(
        status=ModelVersion.BuildStatus.BUILDING, started_at__lt=now - STALE_BUILD_AFTER
    )
    return bool(
        ModelVersion.objects.filter(claimable, pk=model_id).update(
            status=ModelVersion.BuildStatus.BUILDING, started_at=now, processed=0
        )
    )


def _fold(model_id: int, builder: ModelBuilder, batches: QuerySet[WitnessBatch]) -> int:
    """Add the batches' witnesses to the builder, reporting progress; returns how many were folded."""
    processed = reported = 0
    payloads = batches.order_by("pk").values_list("payload", flat=True).iterator(chunk_size=BUILD_CHUNK)
    for payload in payloads:
        witnesses = witnesses_unpack(payload)
        for witness in witnesses:
            builder.add(witness)
        processed += len(witnesses)
        if processed - reported >= PROGRESS_EVERY:
            ModelVersion.objects.filter(pk=model_id).update(processed=processed)
            reported = processed
    return processed


def _store(version: ModelVersion, document: ApiModel, **fields: Any) -> None:
    """Store the model (endpoints as rows, the rest on the version) and mark it ready; drop superseded live
    previews; the merged model follows."""
    with transaction.atomic():
        ModelEndpoint.objects.filter(model_version_id=version.pk).delete()
        ModelEndpoint.objects.bulk_create(ModelEndpoint.of(version.pk, endpoint) for endpoint in document["endpoints"])
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelVersion.BuildStatus.READY,
            witness_count=document["witness_count"],
            servers=document["servers"],
            security_schemes=document["security_schemes"],
            finished_at=timezone.now(),
            error="",
            **fields,
        )
        older = ModelVersion.objects.filter(
            project_id=version.project_id, trace=version.trace_id, version__lt=version.version
        )
        # Live builds are previews, one every 30 s while a trace runs: keep only the newest.
        older.filter(incremental=True, status=ModelVersion.BuildStatus.READY).delete()
        # Only the newest live build is ever resumed.
        older.exclude(builder_state=None).update(builder_state=None)
        # The merged model follows finished traces, not every live refresh (it starts over each time).
        if version.trace_id is not None and not version.incremental:
            project_model_enqueue(project=version.project)


def model_build(*, model_id: int, now: datetime | None = None) -> None:
    """Build a queued model version from stored witnesses; idempotent, and only one worker claims it."""
    now = now or timezone.now()
    if not _claim(model_id, now):
        return
    version = ModelVersion.objects.select_related("project").get(pk=model_id)
    if version.trace_id is None:
        batches = WitnessBatch.objects.filter(trace__project=version.project)
    else:
        batches = WitnessBatch.objects.filter(trace_id=version.trace_id)
    try:
        hints = dataclasses.asdict(path_hints_of(version.project))
        builder, folded_since = _builder_for(version, hints)
        folded_until = None
        if version.incremental:
            # Batches received before the cutoff are committed by now, so none is skipped or folded twice.
            folded_until = now - INCREMENTAL_MARGIN
            batches = batches.filter(received_at__lt=folded_until)
            if folded_since is not None:
                batches = batches.filter(received_at__gte=folded_since)
        total = batches.aggregate(total=Sum("witness_count"))["total"] or 0
        ModelVersion.objects.filter(pk=model_id).update(total=total, path_hints=hints)
        with _cyclic_gc_paused():
            processed = _fold(model_id, builder, batches)
            document = builder.result()
        state = dump_builder(builder) if version.incremental else None
        _store(version, document, processed=processed, builder_state=state, folded_until=folded_until)
    except Exception as error:
        logger.exception("model build %s failed", model_id)
        ModelVersion.objects.filter(pk=model_id).update(
            status=ModelVersion.BuildStatus.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
