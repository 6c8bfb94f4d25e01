import dataclasses
import json
import logging
import re
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError

from apimodel.builder import ModelBuilder
from apimodel.model_types import ApiModel
from apimodel.state import StateFormatError, dump_builder, load_builder
from apimodel.witness_form import read_bodies
from apimodels.exports import exports_store
from apimodels.models import ModelEndpoint, ModelVersion, ProjectPathHints
from apimodels.selectors import latest_builds, path_hints_of
from controlplane.errors import Conflict, Invalid
from controlplane.memory import cyclic_gc_paused
from projects.models import Project
from traces.builds import Build
from traces.models import Trace, WitnessBatch, witnesses_unpack

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 2000
# Stored batches fetched per query while building (a few MB of witnesses at most).
BUILD_CHUNK = 100
# A build that showed no progress for this long lost its worker (killed, or its machine gone): beat re-queues
# it. Progress is written every PROGRESS_EVERY witnesses (well under a second) and around the final steps.
STALE_BUILD_AFTER = timedelta(minutes=5)
# A queued build whose message was sent this long ago and still not taken may have lost it (a Redis restarted
# without persistence): beat sends it again; a duplicate finds the build claimed and does nothing.
RESEND_QUEUED_AFTER = timedelta(minutes=10)
# A build claimed this many times without finishing kills its worker (memory, a crash): it fails instead.
MAX_BUILD_ATTEMPTS = 3
# Longer than any witness-insert transaction takes to commit.
INCREMENTAL_MARGIN = timedelta(seconds=10)
MAX_PATH_HINTS = 200


def model_build_send(model_id: int) -> bool:
    """Hand a queued build to the workers; False when the broker is unreachable (beat sends it once it is back,
    see `model_builds_requeue`), so a request that queued a build never fails after its commit."""
    from apimodels.tasks import model_build  # the task module imports these services

    try:
        model_build.delay(model_id)
    except OperationalError:
        logger.warning("model build %s not sent: the broker is unreachable; beat sends it later", model_id)
        return False
    ModelVersion.objects.filter(pk=model_id, status=ModelVersion.BuildStatus.QUEUED).update(sent_at=timezone.now())
    return True


def model_build_enqueue(
    *, project: Project, trace: Trace | None = None, incremental: bool = False, not_before: datetime | None = None
) -> ModelVersion:
    """Queue a new model version from stored witnesses: of the trace, or (no trace) the merged project model.
    With `not_before`, beat sends it then rather than on commit."""
    with transaction.atomic():
        # Lock the project row so two enqueues get distinct versions.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        latest = ModelVersion.objects.filter(project=project, trace=trace).aggregate(latest=Max("version"))["latest"]
        version = ModelVersion.objects.create(
            project=project, trace=trace, version=(latest or 0) + 1, incremental=incremental, not_before=not_before
        )
        if not_before is None:
            transaction.on_commit(lambda: model_build_send(version.pk))
    return version


def trace_model_final_build(*, trace: Trace) -> ModelVersion:
    """Queue a full build of the trace's model, unless one is queued already (it will read everything stored).

    Once a full build has started, witnesses still arriving in the grace period after the trace closed are
    left to one follow-up build, sent when the grace period ends: a stream of late batches makes one more
    version, not one per batch that lands while the previous build runs."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=trace.project_id).first()
        full = ModelVersion.objects.filter(trace=trace, incremental=False)
        waiting = full.filter(status=ModelVersion.BuildStatus.QUEUED).first()
        if waiting is not None:
            return waiting
        if not full.exists():
            return model_build_enqueue(project=trace.project, trace=trace)
        closed = Trace.objects.get(pk=trace.pk).closed_at
        return model_build_enqueue(project=trace.project, trace=trace, not_before=closed + settings.WITNESS_GRACE)


class TraceModelBuilds:
    """What traces ask of model builds (traces.builds.ModelBuilds), registered in ApimodelsConfig.ready."""

    def queue_final_build(self, trace: Trace) -> None:
        trace_model_final_build(trace=trace)

    def latest_builds(self, traces: Sequence[Trace]) -> dict[int, Build]:
        return dict(latest_builds(traces=traces))

    def endpoint_counts(self, builds: Sequence[Build]) -> dict[str, int]:
        counts = (
            ModelEndpoint.objects.filter(model_version__public_id__in=[build.public_id for build in builds])
            .values_list("model_version__public_id")
            .annotate(count=Count("pk"))
        )
        return dict(counts)

    def queue_project_build(self, project: Project) -> None:
        project_model_enqueue(project=project)


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


_HINT_PARAMETER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_-]*\}")


def path_template_problem(template: str) -> str | None:
    """What is wrong with a path hint's template (`/files/{path}`), or None: a path starting with /, whose
    segments are words or a whole `{name}`."""
    if not template.startswith("/") or "//" in template or len(template) > 500:
        return "A path like /users/me or /files/{path}, starting with /."
    for segment in template.split("/"):
        if ("{" in segment or "}" in segment) and not _HINT_PARAMETER.fullmatch(segment):
            return f"{segment!r} is not a parameter: write a whole segment {{name}}, e.g. /users/{{user_id}}."
    return None


def project_path_hints_update(
    *, project: Project, force: list[str], static: list[str], hidden: list[str], show_default_hidden: bool
) -> ProjectPathHints:
    """Save the project's path hints (templates like `/files/{path}`); they apply to the next build or rebuild."""
    lists = {"force": force, "static": static, "hidden": hidden}
    for field, templates in lists.items():
        if len(templates) > MAX_PATH_HINTS:
            raise Invalid(f"At most {MAX_PATH_HINTS} entries.", field=field)
        for index, template in enumerate(templates):
            if problem := path_template_problem(template):
                raise Invalid(problem, field=f"{field}[{index}]")
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


class LostClaim(Exception):
    """The build was taken over by another task (beat found it stale): this one stops without writing."""


def _claim(model_id: int, task_id: str, now: datetime) -> bool:
    """Take a queued build; or one this task already owned (its message came back: the worker that ran it died,
    and the visibility timeout outlasts the time limit, so it is not still running); or one whose worker
    stopped showing progress. A conditional update, so only one task owns a build at a time."""
    building = Q(status=ModelVersion.BuildStatus.BUILDING)
    claimable = Q(status=ModelVersion.BuildStatus.QUEUED) | (
        building & (Q(task_id=task_id) | Q(heartbeat_at__lt=now - STALE_BUILD_AFTER))
    )
    candidates = ModelVersion.objects.filter(claimable, pk=model_id)
    candidates.filter(attempts__gte=MAX_BUILD_ATTEMPTS).update(
        status=ModelVersion.BuildStatus.FAILED,
        error=f"The build stopped its worker {MAX_BUILD_ATTEMPTS} times (out of memory or a crash).",
        finished_at=now,
    )
    return bool(
        candidates.filter(attempts__lt=MAX_BUILD_ATTEMPTS).update(
            status=ModelVersion.BuildStatus.BUILDING,
            task_id=task_id,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            processed=0,
            skipped=0,
        )
    )


def _report(model_id: int, task_id: str, **fields: Any) -> None:
    """Write the build's progress as a sign of life; raise LostClaim if another task took the build over."""
    owned = ModelVersion.objects.filter(pk=model_id, task_id=task_id, status=ModelVersion.BuildStatus.BUILDING)
    if not owned.update(heartbeat_at=timezone.now(), **fields):
        raise LostClaim(model_id)


def _lenient_witnesses(payload: bytes | memoryview) -> tuple[list[dict[str, Any]], int]:
    """A batch orjson refused (a lone surrogate, an infinity written by an older version), read by the standard
    library: the witnesses that are valid JSON in UTF-8, and how many were not."""
    witnesses = json.loads(zlib.decompress(payload))
    if not isinstance(witnesses, list):
        raise ValueError("a stored batch is not a list")
    valid = []
    for witness in witnesses:
        try:
            json.dumps(witness, allow_nan=False).encode()
            if isinstance(witness, dict):
                read_bodies(witness)
        except (ValueError, UnicodeEncodeError):
            continue
        valid.append(witness)
    return valid, len(witnesses) - len(valid)


def _batch_witnesses(payload: bytes | memoryview, count: int) -> tuple[list[dict[str, Any]], int]:
    """The witnesses of a stored batch, and how many of its `count` witnesses could not be read."""
    try:
        witnesses = witnesses_unpack(payload)
    except ValueError:  # orjson's, or a body's text that is not JSON
        try:
            return _lenient_witnesses(payload)
        except (ValueError, zlib.error):
            return [], count
    except zlib.error:
        return [], count
    if not isinstance(witnesses, list):
        return [], count
    return witnesses, 0


def _fold(model_id: int, task_id: str, builder: ModelBuilder, batches: QuerySet[WitnessBatch]) -> tuple[int, int]:
    """Add the batches' witnesses to the builder, reporting progress; returns (folded, skipped).
    A witness that cannot be read or that the builder refuses is skipped and counted, never fatal."""
    processed = skipped = reported = 0
    rows = batches.order_by("pk").values_list("payload", "witness_count").iterator(chunk_size=BUILD_CHUNK)
    for payload, count in rows:
        witnesses, unreadable = _batch_witnesses(payload, count)
        skipped += unreadable
        for witness in witnesses:
            try:
                builder.add(witness)
            except Exception:
                logger.debug("model build %s skipped a witness", model_id, exc_info=True)
                skipped += 1
        processed += len(witnesses) + unreadable
        if processed - reported >= PROGRESS_EVERY:
            _report(model_id, task_id, processed=processed, skipped=skipped)
            reported = processed
    return processed, skipped


def _store(version: ModelVersion, task_id: str, document: ApiModel, **fields: Any) -> None:
    """Store the model (endpoints as rows, the rest on the version) and, unless a live preview, its exports, and
    mark it ready; drop the versions it supersedes; the merged model follows."""
    with transaction.atomic():
        # Taken over meanwhile: the other task stores the model (rolls back the rows written so far).
        _report(version.pk, task_id)
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
        if not version.incremental:
            # A live preview (one every 30 s while a trace runs) writes its exports when first asked for them.
            exports_store(ModelVersion.objects.select_related("project", "trace").get(pk=version.pk))
        older = ModelVersion.objects.filter(
            project_id=version.project_id, trace=version.trace_id, version__lt=version.version
        )
        # Live builds are previews, one every 30 s while a trace runs: keep only the newest.
        older.filter(incremental=True, status=ModelVersion.BuildStatus.READY).delete()
        if not version.incremental:
            # Built from the same traffic or less with the same path hints: superseded. A version built with
            # other path hints stays, so the two can be compared.
            older.filter(
                status__in=(ModelVersion.BuildStatus.READY, ModelVersion.BuildStatus.FAILED),
                path_hints=fields["path_hints"],
            ).delete()
        # Only the newest live build is ever resumed.
        older.exclude(builder_state=None).update(builder_state=None)
        # The merged model follows finished traces, not every live refresh (it starts over each time).
        if version.trace_id is not None and not version.incremental:
            project_model_enqueue(project=version.project)


def model_build(*, model_id: int, task_id: str, now: datetime | None = None) -> None:
    """Build a queued model version from stored witnesses; idempotent, and only one task owns it at a time."""
    now = now or timezone.now()
    if not _claim(model_id, task_id, now):
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
        _report(model_id, task_id, total=total, path_hints=hints)
        with cyclic_gc_paused():
            processed, skipped = _fold(model_id, task_id, builder, batches)
            _report(model_id, task_id, processed=processed, skipped=skipped)
            if skipped:
                logger.warning("model build %s skipped %s unreadable witnesses", model_id, skipped)
            document = builder.result()
        state = dump_builder(builder) if version.incremental else None
        _store(
            version,
            task_id,
            document,
            processed=processed,
            skipped=skipped,
            path_hints=hints,
            builder_state=state,
            folded_until=folded_until,
        )
    except LostClaim:
        logger.warning("model build %s was taken over by another task", model_id)
    except Exception as error:
        logger.exception("model build %s failed", model_id)
        ModelVersion.objects.filter(pk=model_id, task_id=task_id).update(
            status=ModelVersion.BuildStatus.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )


def model_builds_requeue(*, now: datetime | None = None) -> int:
    """Beat: builds that lost their worker go back to the queue, and queued builds whose message never left
    (the broker was down, or a follow-up waiting for its trace's grace period) or got lost are sent.
    Returns how many were sent."""
    now = now or timezone.now()
    ModelVersion.objects.filter(
        status=ModelVersion.BuildStatus.BUILDING, heartbeat_at__lt=now - STALE_BUILD_AFTER
    ).update(status=ModelVersion.BuildStatus.QUEUED, sent_at=None)
    due = ModelVersion.objects.filter(status=ModelVersion.BuildStatus.QUEUED).filter(
        Q(sent_at=None, not_before=None)
        | Q(sent_at=None, not_before__lte=now)
        | Q(sent_at__lt=now - RESEND_QUEUED_AFTER)
    )
    sent = 0
    for model_id in due.order_by("pk").values_list("pk", flat=True):
        if not model_build_send(model_id):
            break
        sent += 1
    return sent
