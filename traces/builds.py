"""Where trace lifecycle meets the models built from traces, without traces importing apimodels.

apimodels depends on traces (it builds models from stored witnesses), so traces reach model builds
through this interface, which apimodels registers when Django starts (`ApimodelsConfig.ready`).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from projects.models import Project
from traces.models import Trace


class Build(Protocol):
    """A model build as trace pages and the trace API show it."""

    public_id: str
    version: int
    status: str
    processed: int
    total: int
    skipped: int
    error: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def progress_percent(self) -> int: ...

    @property
    def is_pending(self) -> bool: ...


class ModelBuilds(Protocol):
    def queue_final_build(self, trace: Trace) -> None:
        """The trace's traffic is complete, or grew after it was: queue a full build of its model (on commit),
        unless one is already queued."""

    def latest_builds(self, traces: Sequence[Trace]) -> dict[int, Build]:
        """The newest build of each trace that has one, by trace pk, in one query."""

    def endpoint_counts(self, builds: Sequence[Build]) -> dict[str, int]:
        """How many endpoints each of these builds found, by build public id, in one query."""

    def queue_project_build(self, project: Project) -> None:
        """The project's stored traffic changed (a trace was deleted): queue a build of its merged model."""


_registered: list[ModelBuilds] = []


def register(builds: ModelBuilds) -> None:
    _registered[:] = [builds]


def model_builds() -> ModelBuilds:
    if not _registered:
        raise ImproperlyConfigured("No app builds models from traces: add apimodels to INSTALLED_APPS")
    return _registered[0]
