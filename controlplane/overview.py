"""The project overview: what is capturing, which daemons are alive, the latest models.

It gathers the state of traces, daemons and models, so it lives here with the URLconf, above the apps.
"""

from collections import Counter
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apimodels.selectors import latest_ready_project_model, newest_ready_trace_model
from daemons.models import DaemonStatus
from daemons.selectors import daemons_for_project
from projects.models import Project
from traces.selectors import active_traces


def _overview_live_context(project: Project, now: datetime) -> dict[str, Any]:
    statuses = Counter(daemon.get_status(now) for daemon in daemons_for_project(project=project, now=now))
    return {
        "active_traces": active_traces(project_id=project.pk, now=now),
        "healthy_daemons": statuses[DaemonStatus.HEALTHY],
        "unhealthy_daemons": statuses[DaemonStatus.UNHEALTHY],
        "latest_model": newest_ready_trace_model(project=project),
        "project_model": latest_ready_project_model(project=project),
        "now": now,
    }


def project_overview(request: HttpRequest, project: Project) -> HttpResponse:
    context = {"project": project, "section": "overview", **_overview_live_context(project, timezone.now())}
    if request.htmx:
        return render(request, "projects/overview.html#live", context)
    return render(request, "projects/overview.html", context)
