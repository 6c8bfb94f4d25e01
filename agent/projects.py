"""What the agent knows of each project: its active traces, recently closed ones, and the middleware clients.

A project is a Pawprint project name, which is also the middleware's service name (`AKITA_SERVICE_NAME`).
Middleware long polls wait on a project's condition and are answered with the difference between the traces
active here and the ones the middleware lists (PROTOCOL.md A.4).
"""

import enum
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.client import Activation, PollReply

# Events may arrive after a trace stopped (the middleware's queue drains later); the server accepts them this long.
TRACE_GRACE = timedelta(minutes=5)
# Later events for a closed trace are counted as `trace_closed` rather than `unknown_trace` for this long.
CLOSED_MEMORY = timedelta(hours=1)
# The server's own deactivation (its poll wakes at ends_at) normally comes first; this is the fallback.
EXPIRY_SLACK = timedelta(seconds=1)


class ProjectState(enum.Enum):
    PENDING = "pending"  # not confirmed by the control plane yet
    OK = "ok"
    UNKNOWN = "unknown"  # the control plane says no such project for this key


@dataclass
class Client:
    """A middleware client (`client_name`) of one project; several processes may share the name."""

    last_contact: datetime
    active_trace_ids: list[str] = field(default_factory=list)
    polls_held: int = 0


def logging_options(project: str, trace: Activation) -> dict[str, Any]:
    """A trace as the middleware's poll reply lists it; `sampling_rate` for Akita's spelling, `ends_at` for ours."""
    return {
        "trace_name": trace.trace_name,
        "trace_id": trace.trace_id,
        "service_id": project,
        "sample_rate": trace.sampling_rate,
        "sampling_rate": trace.sampling_rate,
        "filter_third_party_trackers": False,
        "ends_at": trace.ends_at.isoformat().replace("+00:00", "Z"),
    }


class Project:
    """One project's traces and clients; every change wakes the middleware polls held on `changed`."""

    def __init__(self, name: str, *, listed: bool) -> None:
        self.name = name
        self.listed = listed  # named with --project, rather than learnt from a middleware's service name
        self.state = ProjectState.PENDING
        self.changed = threading.Condition()
        self._active: dict[str, Activation] = {}
        self._expired_locally: set[str] = set()
        self._closed: dict[str, tuple[Activation, datetime]] = {}
        self._gone: set[str] = set()  # traces the control plane refused witnesses for (410)
        self.clients: dict[str, Client] = {}

    def set_state(self, state: ProjectState) -> None:
        with self.changed:
            self.state = state
            self.changed.notify_all()

    def apply(self, reply: PollReply, now: datetime) -> tuple[list[Activation], list[Activation]]:
        """Take the control plane's news; returns the traces (activated, deactivated) here."""
        activated, deactivated = [], []
        with self.changed:
            for trace_id in reply.deactivated:
                self._expired_locally.discard(trace_id)
                trace = self._active.pop(trace_id, None)
                if trace is not None:
                    self._closed[trace_id] = (trace, now)
                    deactivated.append(trace)
            for trace in reply.activated:
                if trace.trace_id not in self._active:
                    self._active[trace.trace_id] = trace
                    self._closed.pop(trace.trace_id, None)
                    activated.append(trace)
            self.state = ProjectState.OK
            self.changed.notify_all()
        return activated, deactivated

    def expire(self, now: datetime) -> list[Activation]:
        """Close (and return) the traces whose end time has passed.

        A trace the server re-announces after that (our clock runs ahead) is kept until the server says
        otherwise, so a skewed clock cannot make the poll loop spin.
        """
        with self.changed:
            ended = [
                t
                for t in self._active.values()
                if t.ends_at <= now - EXPIRY_SLACK and t.trace_id not in self._expired_locally
            ]
            for trace in ended:
                del self._active[trace.trace_id]
                self._expired_locally.add(trace.trace_id)
                self._closed[trace.trace_id] = (trace, now)
            for trace_id, (_, closed_at) in list(self._closed.items()):
                if closed_at < now - CLOSED_MEMORY:
                    del self._closed[trace_id]
            if ended:
                self.changed.notify_all()
            return ended

    def active(self) -> list[Activation]:
        with self.changed:
            return list(self._active.values())

    def trace_named(self, trace_name: str, now: datetime) -> tuple[Activation | None, bool]:
        """The trace that events addressed by name belong to, and whether it still accepts them."""
        with self.changed:
            for trace in self._active.values():
                if trace.trace_name == trace_name:
                    return trace, trace.trace_id not in self._gone
            for trace, closed_at in self._closed.values():
                if trace.trace_name == trace_name:
                    return trace, trace.trace_id not in self._gone and closed_at >= now - TRACE_GRACE
            return None, False

    def mark_gone(self, trace_id: str) -> None:
        """The control plane no longer takes witnesses for this trace: later entries are dropped at once."""
        with self.changed:
            self._gone.add(trace_id)

    def diff(self, known: list[str]) -> dict[str, list[Any]]:
        """The middleware's poll reply: traces active here it does not list, and listed ids not active here."""
        with self.changed:
            known_set = set(known)
            return {
                "activated_traces": [
                    logging_options(self.name, t) for t in self._active.values() if t.trace_id not in known_set
                ],
                "deactivated_traces": [trace_id for trace_id in known if trace_id not in self._active],
            }

    def client_seen(self, client_name: str, now: datetime, active_trace_ids: list[str] | None = None) -> Client:
        """Note a contact from a middleware client (a poll, or events)."""
        with self.changed:
            client = self.clients.setdefault(client_name, Client(now))
            client.last_contact = now
            if active_trace_ids is not None:
                client.active_trace_ids = active_trace_ids
            return client

    def recent_clients(self, since: datetime) -> list[str]:
        """Clients heard from since `since`, or holding a poll now."""
        with self.changed:
            return sorted(name for name, c in self.clients.items() if c.polls_held or c.last_contact >= since)
