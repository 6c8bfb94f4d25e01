"""The project overview: what is capturing, which daemons are alive, the latest models.

It gathers the state of traces, daemons and models, so it lives here with the URLconf, above the apps.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apimodels.selectors import latest_ready_project_model, newest_ready_trace_model, project_builds_pending
from controlplane.polling import polled
from daemons.models import DaemonStatus
from daemons.selectors import daemon_status_counts
from projects.auth import ConsoleRequest
from projects.models import Project
from projects.selectors import api_keys_for_user
from traces.forms import HarUploadForm
from traces.selectors import active_traces, traces_for_project


@dataclass
class FirstRun:
    """The first-run checklist: the steps from a new project to its first model, each ticked as it happens."""

    key_id: str | None  # the newest live key of the user, for the commands to copy
    daemon_seen: bool
    has_trace: bool
    has_model: bool

    @property
    def steps(self) -> list[tuple[str, bool]]:
        return [
            ("API key created", self.key_id is not None),
            ("Daemon checked in", self.daemon_seen),
            ("First trace", self.has_trace),
            ("First model built", self.has_model),
        ]

    @property
    def done(self) -> int:
        return sum(ticked for _, ticked in self.steps)

    @property
    def complete(self) -> bool:
        return self.done == len(self.steps)


def project_overview(request: ConsoleRequest, project: Project) -> HttpResponse:
    """The overview polls while something on it moves: a trace capturing, a build pending, a daemon whose
    health changes with time. Once none does it stops; a reload shows what started meanwhile."""
    now = timezone.now()
    daemons = daemon_status_counts(project=project, now=now)
    context: dict[str, Any] = {
        "project": project,
        "section": "overview",
        "active_traces": active_traces(project_id=project.pk, now=now),
        "healthy_daemons": daemons[DaemonStatus.HEALTHY],
        "unhealthy_daemons": daemons[DaemonStatus.UNHEALTHY],
        "latest_model": newest_ready_trace_model(project=project),
        "project_model": latest_ready_project_model(project=project),
        "now": now,
    }
    key = api_keys_for_user(user=request.user).first()
    first_run = FirstRun(
        key_id=key.public_id if key else None,
        daemon_seen=any(daemons.values()),
        has_trace=traces_for_project(project=project).exists(),
        has_model=bool(context["latest_model"] or context["project_model"]),
    )
    context["first_run"] = first_run
    context["base_url"] = request.build_absolute_uri("/").rstrip("/")
    context["har_form"] = HarUploadForm()
    can_change = bool(context["active_traces"]) or any(daemons.values()) or project_builds_pending(project=project)
    if request.htmx and request.htmx.target == "first-run-steps":
        # While getting started, the checklist ticks itself: a daemon's first heartbeat, a trace, a model.
        return polled(request, "projects/overview.html#steps", context, not first_run.complete)
    if request.htmx:
        return polled(request, "projects/overview.html#live", context, can_change)
    return render(request, "projects/overview.html", {**context, "poll": can_change})
