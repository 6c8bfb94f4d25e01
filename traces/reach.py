"""How far a trace's start or stop reached the project's daemons, without traces importing daemons.

daemons records which polls acknowledged a change (daemons depend on traces), so the trace API reads the reach
through this interface, which daemons registers when Django starts (`DaemonsConfig.ready`), as builds.py does.
"""

from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from traces.models import Trace


class Reach(Protocol):
    """The latest change of a trace (its start while active, else its stop) and how many daemons learnt it."""

    change: str
    reached: int
    daemons: int


class TraceReaches(Protocol):
    def reach(self, trace: Trace, now: datetime) -> Reach | None:
        """The trace's reach now; None for a trace no daemon captures (an uploaded HAR)."""


_registered: list[TraceReaches] = []


def register(reaches: TraceReaches) -> None:
    _registered[:] = [reaches]


def trace_reaches() -> TraceReaches:
    if not _registered:
        raise ImproperlyConfigured("No app records which daemons a trace reached: add daemons to INSTALLED_APPS")
    return _registered[0]
