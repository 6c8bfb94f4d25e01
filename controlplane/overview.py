"""The project overview: what is capturing, which daemons are alive, the latest models.

It gathers the state of traces, daemons and models, so it lives here with the URLconf, above the apps.
"""

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
from traces.selectors import active_traces


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
    can_change = bool(context["active_traces"]) or any(daemons.values()) or project_builds_pending(project=project)
    if request.htmx:
        return polled(request, "projects/overview.html#live", context, can_change)
    return render(request, "projects/overview.html", {**context, "poll": can_change})
