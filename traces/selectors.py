from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

from controlplane.errors import NotFound
from projects.models import Project
from traces.builds import Build, model_builds
from traces.models import Trace, TraceStatus

# Beat queues an ended trace's final build within ~15 s; past this wait, nothing will (no beat runs).
FINAL_BUILD_WAIT = timedelta(minutes=1)


def traces_for_project(*, project: Project) -> QuerySet[Trace]:
    return Trace.objects.filter(project=project)


def trace_for_project(*, project: Project, trace_ref: str) -> Trace:
    """A trace of the project by id or name; NotFound otherwise."""
    field = "public_id" if trace_ref.startswith("trc_") else "name"
    trace = Trace.objects.filter(project=project, **{field: trace_ref}).first()
    if trace is None:
        raise NotFound("No such trace.")
    return trace


def active_traces(*, project_id: int, now: datetime) -> list[Trace]:
    return list(
        Trace.objects.filter(
            project_id=project_id,
            source=Trace.Source.LIVE,
            started_at__lte=now,
            ends_at__gt=now,
            stopped_at__isnull=True,
        ).order_by("ends_at")
    )


@dataclass
class TraceRow:
    """A trace as pages show it: its status now and its newest model build."""

    trace: Trace
    status: TraceStatus
    build: Build | None
    now: datetime
    endpoint_count: int | None = None  # of the newest build, once it is ready

    @property
    def duration(self) -> timedelta | None:
        """How long the trace captured (or will, while active); None for an upload, which captured nothing live."""
        if self.trace.source == Trace.Source.HAR:
            return None
        end = self.trace.ends_at if self.status == TraceStatus.ACTIVE else self.trace.closed_at
        return end - self.trace.started_at

    @property
    def pending(self) -> bool:
        return self.build is not None and self.build.is_pending

    @property
    def idle_label(self) -> str:
        """What the build column says when the trace has no build."""
        return "builds as witnesses arrive" if self.status == TraceStatus.ACTIVE else "—"

    @property
    def can_change(self) -> bool:
        """Whether polling may still see something new: capture running, a build pending, or beat about to queue one."""
        if self.status == TraceStatus.ACTIVE or self.pending:
            return True
        awaits_final_build = self.build is None and self.trace.final_build_queued_at is None
        return awaits_final_build and self.now < self.trace.closed_at + FINAL_BUILD_WAIT


def trace_rows(*, traces: Iterable[Trace], now: datetime) -> list[TraceRow]:
    """Rows for these traces, with their newest builds and the endpoint counts of those ready read in two queries."""
    traces = list(traces)
    builds = model_builds().latest_builds(traces)
    counts = model_builds().endpoint_counts([build for build in builds.values() if build.status == "ready"])
    rows = []
    for trace in traces:
        build = builds.get(trace.pk)
        count = counts.get(build.public_id, 0) if build is not None and build.status == "ready" else None
        rows.append(TraceRow(trace, trace.get_status(now), build, now, count))
    return rows
